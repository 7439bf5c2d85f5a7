"""Run a `Program` on the JIT: fixup -> jit -> machine, with the emulated kernel behind the stubs.

- The fixup stage (`framework.fixup`) rewrites the program as the kernel does
  after verification; the tc context accesses the verifier typed then read the
  kernel's `struct sk_buff`, so r1 is the test run's `struct sk_buff`
  (framework.kernel.skb), whatever the program reads. Only the instructions the
  conversion emitted may touch it: any other access is a fault, never a silently
  wrong field.
- Stack depths: the kernel's rule (the deepest fp-relative byte the subprog
  touches, directly or through an fp-derived pointer, rounded up to 8),
  applied to the instructions (`Fixed.stack_depths`), unless given (the oracle's).
- `bpf_throw` calls the strategy's C runtime (`framework.runtime`; stock's by
  default), mapped at RUNTIME_BASE; its instructions are counted apart, as walk /
  lookup / release. The runtime reads the `bakeoff_rt` table (frames, release
  stubs) and the strategy's own table, mapped read-only at STRATEGY_TABLE.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from iced_x86 import Decoder, FlowControl

from framework.fixup import Fixed
from framework.fixup.maplookup import ARRAY_VALUE_OFFSET
from framework.isa import opcodes as op
from framework.isa.insn import Insn
from framework.isa.opcodes import Kind
from framework.jit import NativeImage, jit, subprog_specs
from framework.jit.counters import IN_R9
from framework.kernel.services import EmulatedKernel
from framework.machine.bridge import KernelBridge, KernelResolver
from framework.machine.machine import Machine, MachineRun
from framework.machine.memory import kfunc_stub, release_stub
from framework.machine.tailcalls import (
    TABLE_STRIDE,
    LinkedImage,
    TableFor,
    Target,
    kfunc_names,
    link_images,
    prog_array_addresses,
)
from framework.runtime import RUNTIME_DATA, RUNTIME_DATA_SIZE, Runtime, RuntimeTable, ThrowRecord, stock_runtime
from framework.runtime.table import MAX_KINDS, FrameInfo
from framework.throwpoints import Force, ForceCounter

__all__ = ["JitProgram", "JitRun", "X86Split", "jit_program", "machine_for", "run_jitted"]

# the ranges counted apart: the runtime's sections, and the pads and exception callback inside the image
_PARTS = ("walk", "lookup", "release", "record", "pad", "exception_cb")

TIMEOUT_US = 60_000_000
UNCONVERTED = "a context access the verifier did not type as one (so not converted) reached the struct sk_buff"
STRATEGY_TABLE = RUNTIME_DATA + RUNTIME_DATA_SIZE  # where a strategy's runtime table is mapped (read-only)


@dataclass(frozen=True, slots=True)
class JitProgram:
    """A program after fixup and JIT, ready for machines; with tail-call targets, `image` holds
    the caller's code first and each target's after it (framework.machine.tailcalls)."""

    fixed: Fixed
    image: NativeImage
    runtime: Runtime
    depths: tuple[int, ...]
    table: bytes = b""  # the strategy's runtime table, its addresses resolved against `image`
    linked: LinkedImage | None = None  # the tail-call targets beside the caller, and the prog arrays


# A strategy's table for its runtime, once the code is laid out (RFC PATCH 09/14: pcs to JIT offsets):
# TableFor(fixed, image, address the table is mapped at), framework.machine.tailcalls


def _value_bases(kernel: EmulatedKernel, inlined: frozenset[int]) -> dict[int, int]:
    """first element's address -> map index, for arrays whose lookups are inlined."""
    out = {}
    for idx in inlined:
        values = kernel.maps[idx].values
        if values is not None:
            out[values.base] = idx
    return out


def array_pointers(kernel: EmulatedKernel, inlined: frozenset[int]) -> dict[int, int]:
    """For arrays whose lookups are inlined: the map address the program holds -> the kernel's map.

    The inlined lookup adds offsetof(struct bpf_array, value) to the map pointer, so such a
    map's ld_imm64 yields the address that far below its first element."""
    out = {}
    for idx in inlined:
        values = kernel.maps[idx].values
        if values is not None:
            out[values.base - ARRAY_VALUE_OFFSET] = kernel.maps[idx].obj.base
    return out


class _Resolver(KernelResolver):
    """Calls to bpf_throw, and to the runtime functions a strategy's inserted code names, go to the
    runtime; everything else to the stubs and the kernel. A prog array's map pointer is its
    emulated struct bpf_array (framework.machine.tailcalls); with `stub_of`, a kfunc's stub is
    the one its name has in the machine's one kfunc list (a tail-call target's own list differs)."""

    def __init__(
        self,
        kernel: EmulatedKernel,
        kfuncs: Sequence[str],
        runtime: Runtime,
        inlined: frozenset[int],
        stub_of: Callable[[str], int] | None = None,
    ) -> None:
        super().__init__(kernel)
        self._kfuncs = tuple(kfuncs)
        self._runtime = dict(runtime.symbols)  # bpf_throw, and what a strategy's inserted calls name
        self._arrays = {idx: base - ARRAY_VALUE_OFFSET for base, idx in _value_bases(kernel, inlined).items()}
        self._arrays |= prog_array_addresses(kernel)
        self._stub_of = stub_of

    def __call__(self, pc: int, insn: Insn) -> int:
        is_map = insn.kind is Kind.LD_IMM64 and insn.src in (op.PSEUDO_MAP_IDX, op.PSEUDO_MAP_FD)
        if is_map and insn.imm in self._arrays:
            return self._arrays[insn.imm]
        kfunc = insn.kind is Kind.CALL and insn.src == op.PSEUDO_KFUNC_CALL and 0 <= insn.imm < len(self._kfuncs)
        if kfunc and self._kfuncs[insn.imm] in self._runtime:
            return self._runtime[self._kfuncs[insn.imm]]
        if kfunc and self._stub_of is not None:
            return self._stub_of(self._kfuncs[insn.imm])
        return super().__call__(pc, insn)


def jit_program(
    kernel: EmulatedKernel,
    fixed: Fixed,
    depths: Sequence[int] | None = None,
    *,
    counter: int | None = IN_R9,
    runtime: Runtime | None = None,
    table_for: TableFor | None = None,
    targets: Sequence[Target] = (),
    slots: Mapping[int, Mapping[int, str]] | None = None,
) -> JitProgram:
    """JIT the fixed program against `kernel` (map addresses) with the runtime's bpf_throw;
    `table_for` gives the strategy's table for the runtime, once the code is laid out. Each of
    `targets` (tail-call targets, fixed on their own) is JITed after it, each with its own
    table; `slots` fills the prog arrays: map index -> slot -> program name."""
    runtime = runtime or stock_runtime()
    prog = fixed.program
    depths = tuple(depths) if depths is not None else fixed.stack_depths
    names = kfunc_names(fixed, targets)
    stub_of = (lambda name: kfunc_stub(names.index(name))) if targets else None
    image = jit(
        prog.slots,
        subprog_specs(fixed),
        stack_depths=depths,
        resolver=_Resolver(kernel, prog.kfuncs, runtime, fixed.inlined_maps, stub_of),
        counter=counter,
        tail_calls=dict(fixed.tail_calls),
    )
    table = table_for(fixed, image, STRATEGY_TABLE) if table_for is not None else b""
    if not targets and not fixed.tail_calls:
        return JitProgram(fixed, image, runtime, depths, table)
    own = []
    at = image.base + len(image.code)
    for k, t in enumerate(targets):
        at = (at + 63) & ~63
        timage = jit(
            t.fixed.program.slots,
            subprog_specs(t.fixed),
            stack_depths=t.fixed.stack_depths,
            resolver=_Resolver(kernel, t.fixed.program.kfuncs, runtime, t.fixed.inlined_maps, stub_of),
            base=at,
            counter=counter,
            tail_calls=dict(t.fixed.tail_calls),
        )
        address = STRATEGY_TABLE + TABLE_STRIDE * (k + 1)
        own.append((t, timage, t.table_for(t.fixed, timage, address) if t.table_for is not None else b"", address))
        at += len(timage.code)
    linked = link_images(fixed, image, table, own, slots or {}, names, kernel, STRATEGY_TABLE)
    return JitProgram(fixed, linked.image, runtime, depths, table, linked)


@dataclass(frozen=True, slots=True)
class X86Split:
    """Where a JIT run's x86 instructions ran. `program` is the JITed code and the return thunk;
    the runtime's sections (framework/runtime: BAKEOFF_WALK, _LOOKUP, _RELEASE, _RECORD) are
    counted apart, and the total is the two. `pad` and `exception_cb` say how many of the
    program's instructions were landing pads' and the exception callback's (in the image, so
    counted once, in `program`); `service_calls` counts calls into the emulated kernel."""

    program: int
    walk: int = 0  # the frame walk every runtime shares (throw time)
    lookup: int = 0  # the strategy's lookup (throw time)
    release: int = 0  # the strategy's releases (throw time)
    record: int = 0  # the strategy's happy-path runtime (a resource table's pushes and removals)
    pad: int = 0  # of program: the landing pads' (throw time)
    exception_cb: int = 0  # of program: the exception callback's (throw time)
    service_calls: int = 0  # trap-stub calls into the emulated kernel (not instructions)

    @property
    def runtime(self) -> int:
        return self.walk + self.lookup + self.release + self.record

    @property
    def total(self) -> int:
        return self.program + self.runtime

    def to_json(self) -> dict[str, int]:
        return {
            "program": self.program,
            "walk": self.walk,
            "lookup": self.lookup,
            "release": self.release,
            "record": self.record,
            "pad": self.pad,
            "exception_cb": self.exception_cb,
            "service_calls": self.service_calls,
        }


@dataclass(frozen=True, slots=True)
class JitRun:
    """What the machine saw, and what the runtime recorded."""

    result: MachineRun
    throw: ThrowRecord
    split: X86Split  # where the run's x86 instructions ran
    guard_reaches: int | None = None  # with `force`: how often the guards were reached


def _pad_pcs(fixed: Fixed) -> frozenset[int]:
    """The landing pads' pcs: from a subprog's first pad to its end (pads close their subprog)."""
    out: set[int] = set()
    for sub in fixed.program.subprogs:
        starts = [c.pad for c in fixed.program.cleanup if sub.start <= c.pad < sub.end]
        if starts:
            out.update(range(min(starts), sub.end))
    return frozenset(out)


def _runs(pcs: frozenset[int]) -> list[tuple[int, int]]:
    """Contiguous [lo, hi) runs of pcs."""
    out: list[tuple[int, int]] = []
    for pc in sorted(pcs):
        if out and out[-1][1] == pc:
            out[-1] = (out[-1][0], pc + 1)
        else:
            out.append((pc, pc + 1))
    return out


def machine_for(kernel: EmulatedKernel, prepared: JitProgram, *, count: bool = True) -> tuple[Machine, int]:
    """A machine holding the image and the runtime, bridged to `kernel`, and the ctx pointer for r1.
    `count=False` with an image JITed without a counter runs uncounted (for timing)."""
    fixed, image, runtime, linked = prepared.fixed, prepared.image, prepared.runtime, prepared.linked
    machine = Machine(image, count=count)
    machine.map_code(runtime.base, runtime.code)
    for name, ranges in runtime.ranges().items() if count else ():
        for lo, hi in ranges:
            machine.add_counted(name, lo, hi)
    cbs = [f for f in image.frames if f.exception_cb]
    for cb in cbs if count else ():  # the exception callbacks, apart too: part of the throw-time cost
        machine.add_counted("exception_cb", image.base + cb.entry, image.base + cb.end)
    frames = tuple(
        FrameInfo(image.base + f.entry, image.base + f.end, f.push_base, f.pushed, f.subprog) for f in image.frames
    )
    code: tuple[tuple[int, int], ...] = ()
    mains: tuple[tuple[int, int, int], ...]
    tables: tuple[tuple[int, int], ...]
    if linked is None:
        main = image.frames[0]
        mains = ((image.base + main.entry, image.base + main.end, image.base + cbs[0].entry if cbs else 0),)
        tables = ((STRATEGY_TABLE, len(prepared.table)) if prepared.table else (0, 0),)
        if prepared.table:
            machine.map_region("strategy table", prepared.table, address=STRATEGY_TABLE, writable=False)
    else:  # each program's code, callback and table (the throwing program's is the one a throw reads)
        mains = tuple((image.base + p.main.entry, image.base + p.main.end, image.base + p.cb.entry if p.cb else 0)
                      for p in linked.programs)  # fmt: skip
        code = tuple((image.base + p.lo, image.base + p.hi) for p in linked.programs)
        tables = tuple((p.table_address, len(p.table)) if p.table else (0, 0) for p in linked.programs)
        for p in linked.programs:
            if p.table:
                machine.map_region(f"strategy table {p.name}", p.table, address=p.table_address, writable=False)
        for name, address, data in linked.regions:
            machine.map_region(name, data, address=address, writable=False)
    table = RuntimeTable(
        (image.base, image.base + len(image.code)),
        mains,
        frames,
        tuple(release_stub(n) for n in range(MAX_KINDS)),
        tables[0],
        tables,
        code,
    )
    machine.map_region("bakeoff_rt", table.encode(), address=RUNTIME_DATA)
    parts = linked.programs if linked is not None else ()
    calls = dict(fixed.kfunc_calls) | {pc + p.pc_base: f for p in parts[1:] for pc, f in p.fixed.kfunc_calls}
    arrays = array_pointers(kernel, frozenset().union(fixed.inlined_maps, *(p.fixed.inlined_maps for p in parts)))

    def args_of(pc: int, args: tuple[int, ...]) -> tuple[int, ...]:
        fix = calls.get(pc)
        if fix is not None and fix.name in ("bpf_obj_new_impl", "bpf_percpu_obj_new_impl"):
            return (fix.type_id, 0, *args[2:])  # the service takes the type id, as the loader left it
        return tuple(arrays.get(a, a) for a in args)  # an inlined array's map pointer, as the kernel knows it

    pads = _pad_pcs(fixed) | {pc + p.pc_base for p in parts[1:] for pc in _pad_pcs(p.fixed)}
    for lo, hi in _runs(pads) if count else ():  # landing pads, apart: throw-time code in the image
        end = image.pc_ends[hi - 1]
        assert end is not None
        machine.add_counted("pad", image.base + image.native_offset(lo), image.base + end)
    KernelBridge(  # the machine's services and memory hooks hold it
        machine,
        kernel,
        linked.kfuncs if linked is not None else fixed.program.kfuncs,
        pc_of=linked.original_pc if linked is not None else fixed.original_pc,
        args_of=args_of,
        unwinder_pcs=pads,
    )
    ctx = kernel.context.native_ctx  # tc: the struct sk_buff the converted accesses read, as Linux passes it
    native = kernel.context.native_region
    if native is not None:  # only what convert_ctx_accesses emitted reads it: a context access it missed stops the run
        ctx_pcs = fixed.ctx_pcs.union(*({pc + p.pc_base for pc in p.fixed.ctx_pcs} for p in parts[1:]))
        machine.only_from(native.base, native.end, ctx_pcs, UNCONVERTED)
    return machine, ctx


def _force(machine: Machine, prepared: JitProgram, force: Force) -> ForceCounter:
    """Hook each guard's jcc (the guard's pcs moved through the fixup stage's pc map)."""
    image, fixed = prepared.image, prepared.fixed
    counter = ForceCounter(force)
    sides, guard_at = {}, {}
    for guard in force.point.guards:
        new = fixed.pc_map[guard.pc]
        start, end = image.native_offset(new), image.pc_ends[new]
        insn = fixed.program.slots[new]
        assert end is not None and insn is not None
        jccs = [i for i in Decoder(64, image.code[start:end], ip=image.base + start)
                if i.flow_control == FlowControl.CONDITIONAL_BRANCH]  # fmt: skip
        if not jccs:
            continue  # a jump the JIT emitted no branch for (to the next pc): nothing to force
        taken = image.base + image.native_offset(insn.jump_target(new))
        fall = image.base + image.native_offset(new + 1)
        sides[jccs[-1].ip] = (taken, fall)
        guard_at[jccs[-1].ip] = guard.pc
    machine.force_branches(sides, lambda address: counter.decide(guard_at[address]))
    return counter


def run_jitted(
    kernel: EmulatedKernel, prepared: JitProgram, *, timeout_us: int = TIMEOUT_US, force: Force | None = None
) -> JitRun:
    """One run in a fresh machine; the ledger stays in `kernel` (pcs are the original program's).
    `force` drives the run to one throwing point (framework.throwpoints)."""
    machine, ctx = machine_for(kernel, prepared)
    counter = _force(machine, prepared, force) if force is not None else None
    result = machine.run((ctx,), timeout_us=timeout_us)
    machine.memory_out()  # what the program left in the skb and packet, for the test run's outputs
    record = RuntimeTable.record(machine.read(RUNTIME_DATA, 64))
    parts = dict(result.split)  # the counted ranges machine_for added, by name
    split = X86Split(result.x86_insns, **{k: parts.get(k, 0) for k in _PARTS}, service_calls=result.service_calls)
    return JitRun(result, record, split, counter.reached if counter else None)
