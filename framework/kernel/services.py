"""The emulated kernel: the helpers and kfuncs the corpus calls, shared by every engine.

Each service takes its arguments (r1-r5) and returns r0; it reaches guest memory
only through `self.memory` and BPF code only through `Engine.invoke`, so the
interpreter and the JIT's trap stubs call the very same code. Every acquire and
release is recorded in the ledger, with the pc of the call; a release made while
an unwinder runs (`unwinding`) is recorded as the unwinder's. Behaviour mirrors
the kernel function named beside each service; what a test run would make
nondeterministic (time, random numbers) is made deterministic.

This module holds the kernel itself (`EmulatedKernel`: memory, maps, objects, the ledger, the
dispatch by name); the services register in framework.kernel.registry from their own modules:
map_helpers, task_helpers, object_kfuncs, ringbuf, socket_lookup, sock_helpers, net_helpers,
graph_kfuncs and timers.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field

from framework.isa import opcodes as op
from framework.isa.insn import Insn
from framework.kernel.api import Engine, KernelFault, NotEmulated
from framework.kernel.ctx import Context, build_context
from framework.kernel.kinds import release_kind
from framework.kernel.ledger import Ledger, Resource
from framework.kernel.maps import MapState
from framework.kernel.memory import AddressSpace, Region
from framework.kernel.objects import Objects, RunInput
from framework.kernel.registry import HELPERS, KFUNCS, KTIME_START, MASK64, Alloc
from framework.kernel.timers import Timer
from framework.kernel.uninit import initialised_fields, unwritten_watch
from framework.load.program import Program
from framework.platform.helpers import helper_id, helper_name

__all__ = ["FUNC_BASE", "EmulatedKernel"]
FUNC_BASE = 0xFFFF_FFFF_C000_0000  # where ld_imm64 of a BPF function points: FUNC_BASE + 8 * pc


@dataclass(eq=False)
class EmulatedKernel:
    """One test run's kernel: memory, objects, maps, ctx, ledger and the services."""

    program: Program
    run_input: RunInput = field(default_factory=RunInput)
    memory: AddressSpace = field(default_factory=AddressSpace)
    ledger: Ledger = field(default_factory=Ledger)
    unwinding: bool = False
    calls: dict[str, int] = field(default_factory=dict)  # service name -> times called
    trace: list[str] = field(default_factory=list)  # bpf_trace_printk formats, in call order

    def __post_init__(self) -> None:
        self.objects = Objects.build(self.memory, self.run_input)
        self.maps = [MapState.create(self.memory, m) for m in self.program.maps]
        by_name = {m.mdef.name: m for m in self.maps}
        for entry in self.run_input.maps:
            if entry.name not in by_name:
                raise KernelFault(f"input sets map '{entry.name}', which the program does not have")
            by_name[entry.name].update(entry.key, entry.value, 0)
        self.context: Context = build_context(
            self.memory,
            self.program.prog_type,
            self.run_input.packet,
            self.run_input.ctx,
            attach_to=self.program.attach_to,
            attach_type=self.program.expected_attach_type,
        )
        self._allocs: dict[int, Alloc] = {}
        # lists and rbtrees (framework.kernel.graph_kfuncs): root address -> node addresses in
        # order, and node address -> the root that owns it (bpf_list_node_kern.owner)
        self.graphs: dict[int, list[int]] = {}
        self.graph_owner: dict[int, int] = {}
        # bpf_timer (framework.kernel.timers): a struct bpf_timer's address -> its timer
        self.timers: dict[int, Timer] = {}
        self.current_kfunc = ""
        self._ksyms: dict[int, Region] = {}
        self._clock = KTIME_START
        self._random = 0x2545F491
        self._engine: Engine | None = None  # the engine of the latest call: whose pc a memory watch reports

    # -- the Kernel interface -----------------------------------------------------------

    def helper(self, func_id: int, args: Sequence[int], engine: Engine) -> int:
        name = helper_name(func_id)  # "bpf_<name>"
        service = HELPERS.get((name or "").removeprefix("bpf_"))
        if service is None or name is None:
            raise NotEmulated(f"helper {name or '?'} (id {func_id}) is not emulated")
        self.calls[name] = self.calls.get(name, 0) + 1
        self._engine = engine
        return service(self, args, engine) & MASK64

    def kfunc(self, name: str, args: Sequence[int], engine: Engine) -> int:
        service = KFUNCS.get(name)
        if service is None:
            raise NotEmulated(f"kfunc {name} is not emulated")
        self.calls[name] = self.calls.get(name, 0) + 1
        self._engine = engine
        self.current_kfunc = name  # for services registered under several names
        return service(self, args, engine) & MASK64

    def unwind_release(self, number: int, value: int, engine: Engine) -> int:
        """An unwinder releases kind `number` (framework.kernel.kinds) held as `value`: the very
        service the program would call (bpf_cleanup_resource, RFC PATCH 10/14), recorded as the unwinder's."""
        kind = release_kind(number)
        if kind is None:
            raise KernelFault(f"the unwinder asked to release kind {number}, which nothing releases")
        self.unwinding = True
        try:
            if kind.service == "kfunc":
                return self.kfunc(kind.function, (value, 0, 0, 0, 0), engine)
            func_id = helper_id(f"bpf_{kind.function}")
            assert func_id is not None, kind.function
            return self.helper(func_id, (value, 0, 0, 0, 0), engine)
        finally:
            self.unwinding = False

    def ld_imm64(self, insn: Insn, pc: int) -> int:
        if insn.src in (op.PSEUDO_MAP_IDX, op.PSEUDO_MAP_FD, op.PSEUDO_MAP_IDX_VALUE, op.PSEUDO_MAP_VALUE):
            if not 0 <= insn.imm < len(self.maps):
                raise KernelFault(f"ld_imm64 names map {insn.imm}; the program has {len(self.maps)}")
            state = self.maps[insn.imm]
            if insn.src in (op.PSEUDO_MAP_IDX, op.PSEUDO_MAP_FD):
                return state.obj.base
            if state.values is None:
                raise KernelFault(f"map {state.mdef.name} has no direct value address")
            return state.values.base + (insn.imm_hi & 0xFFFFFFFF)
        if insn.src == op.PSEUDO_BTF_ID:  # a ksym: a zeroed kernel variable
            if insn.imm not in self._ksyms:
                self._ksyms[insn.imm] = self.memory.map(f"ksym btf id {insn.imm}", "object", bytes(256))
            return self._ksyms[insn.imm].base
        raise NotEmulated(f"ld_imm64 with pseudo source {insn.src} is not emulated")

    def packet(self) -> tuple[int, int] | None:
        return self.context.packet_span

    def packet_load(self, offset: int, size: int) -> int | None:
        if self.context.skb is not None:
            return self.context.skb.load_pointer(offset, size)
        span = self.packet()  # a packet without an skb's headers: offsets from its start only
        return span[0] + offset if span is not None and offset >= 0 and offset + size <= span[1] else None

    def func_address(self, pc: int) -> int:
        return FUNC_BASE + 8 * pc

    def func_pc(self, addr: int) -> int | None:
        if addr >= FUNC_BASE and (addr - FUNC_BASE) % 8 == 0:
            return (addr - FUNC_BASE) // 8
        return None

    # -- shared plumbing ----------------------------------------------------------------------

    def _acquire(self, kind: str, handle: int, engine: Engine, by: str) -> Resource:
        return self.ledger.acquire(kind, handle, engine.pc, by)

    def _release(self, kind: str, handle: int | None, engine: Engine, by: str) -> Resource | None:
        return self.ledger.release(kind, handle, engine.pc, by, unwinder=self.unwinding)

    def _map(self, addr: int) -> MapState:
        for state in self.maps:
            if state.obj.base == addr:
                return state
        raise KernelFault(f"0x{addr:x} is not a map")

    def _watch_freed(self, region: Region, resource: Resource | None) -> None:
        """Freed memory stays mapped; touching it is recorded as a use after release."""
        self.memory.free(region)
        if resource is None:
            return
        ledger = self.ledger

        def on_access(_r: Region, _off: int, _size: int, write: bool) -> None:
            pc = self._engine.pc if self._engine is not None else -1
            ledger.use(resource, pc, "store" if write else "load")

        region.on_access = on_access

    @functools.cached_property
    def _btf(self) -> object:
        from framework.load.btf import parse_btf

        return parse_btf(self.program.btf, source=self.program.source) if self.program.btf else None

    def _type_size(self, type_id: int) -> int:
        from framework.load.btf import Btf

        btf = self._btf
        if not isinstance(btf, Btf):
            raise KernelFault("bpf_obj_new needs the program's BTF")
        return btf.size(type_id)

    def _new_obj(self, kind: str, type_id: int, engine: Engine, by: str) -> int:
        size = self._type_size(type_id)  # do_misc_fixups passes the size; the loader keeps the type id
        region = self.memory.map(f"{kind} (btf type {type_id})", "object", bytes(max(size, 1)))
        self._allocs[region.base] = Alloc(region, kind)
        region.on_access = unwritten_watch(len(region.data), initialised_fields(self._btf, type_id))
        region.resource = self._acquire(kind, region.base, engine, by).id
        return region.base

    def _drop_obj(self, kind: str, addr: int, engine: Engine, by: str) -> int:
        res = self._release(kind, addr, engine, by)
        alloc = self._allocs.get(addr)
        if alloc is not None and res is not None:
            alloc.refs -= 1
            if alloc.refs == 0:
                self._watch_freed(alloc.region, res)
        return 0


# every service module registers itself in the tables on import
from framework.kernel import (  # noqa: E402, F401
    checksums,
    graph_kfuncs,
    map_helpers,
    net_helpers,
    object_kfuncs,
    ringbuf,
    sock_helpers,
    socket_lookup,
    task_helpers,
    timers,
)
