"""The emulated kernel: the helpers and kfuncs the corpus calls, shared by every engine.

Each service takes its arguments (r1-r5) and returns r0; it reaches guest memory
only through `self.memory` and BPF code only through `Engine.invoke`, so the
interpreter and the JIT's trap stubs call the very same code. Every acquire and
release is recorded in the ledger, with the pc of the call; a release made while
an unwinder runs (`unwinding`) is recorded as the unwinder's. Behaviour mirrors
the kernel function named beside each service; what a test run would make
nondeterministic (time, random numbers) is made deterministic.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from framework.isa import opcodes as op
from framework.isa.insn import Insn
from framework.kernel.api import Engine, KernelFault, NotEmulated
from framework.kernel.ctx import Context, build_context
from framework.kernel.kinds import release_kind
from framework.kernel.ledger import Ledger, Resource
from framework.kernel.maps import MapState
from framework.kernel.memory import AddressSpace, Fault, Region
from framework.kernel.objects import CURRENT_PID, ROOT_CGROUP_ID, Objects, RunInput
from framework.kernel.uninit import initialised_fields, unwritten_watch
from framework.load.program import Program
from framework.platform.helpers import helper_id, helper_name

__all__ = ["FUNC_BASE", "EmulatedKernel"]

MASK64 = (1 << 64) - 1
FUNC_BASE = 0xFFFF_FFFF_C000_0000  # where ld_imm64 of a BPF function points: FUNC_BASE + 8 * pc
EINVAL, ENOENT, E2BIG, EFAULT, ENOMEM, EOPNOTSUPP = 22, 2, 7, 14, 12, 95
BPF_MAX_LOOPS = 8 * 1024 * 1024  # bpf_loop's and bpf_iter_num_new's limit
DYNPTR_TYPE_SHIFT, DYNPTR_LOCAL, DYNPTR_RINGBUF = 28, 1, 2  # include/linux/bpf.h
DYNPTR_SIZE_MASK = (1 << DYNPTR_TYPE_SHIFT) - 1
KTIME_START, KTIME_STEP = 1_000_000_000, 1_000  # ktime: starts at 1 s, 1 us per call

Service = Callable[["EmulatedKernel", Sequence[int], Engine], int]
_HELPERS: dict[str, Service] = {}
_KFUNCS: dict[str, Service] = {}


def _helper(name: str) -> Callable[[Service], Service]:
    def register(fn: Service) -> Service:
        _HELPERS[name] = fn
        return fn

    return register


def _kfunc(*names: str) -> Callable[[Service], Service]:
    def register(fn: Service) -> Service:
        for name in names:
            _KFUNCS[name] = fn
        return fn

    return register


def _neg(errno: int) -> int:
    return -errno & MASK64


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


@dataclass(eq=False, slots=True)
class _Alloc:
    """An object from bpf_obj_new / bpf_percpu_obj_new with its refcount (bpf_refcount)."""

    region: Region
    kind: str
    refs: int = 1


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
        self._allocs: dict[int, _Alloc] = {}
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
        service = _HELPERS.get((name or "").removeprefix("bpf_"))
        if service is None or name is None:
            raise NotEmulated(f"helper {name or '?'} (id {func_id}) is not emulated")
        self.calls[name] = self.calls.get(name, 0) + 1
        self._engine = engine
        return service(self, args, engine) & MASK64

    def kfunc(self, name: str, args: Sequence[int], engine: Engine) -> int:
        service = _KFUNCS.get(name)
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
        self._allocs[region.base] = _Alloc(region, kind)
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


# -- maps (kernel/bpf/helpers.c, arraymap.c, hashtab.c) ---------------------------------------


@_helper("map_lookup_elem")
def _map_lookup_elem(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    state = k._map(a[0])
    return state.lookup(k.memory.read(a[1], state.mdef.key_size))


@_helper("map_update_elem")
def _map_update_elem(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    state = k._map(a[0])
    key = k.memory.read(a[1], state.mdef.key_size)
    old = state.lookup(key)
    err = state.update(key, k.memory.read(a[2], state.mdef.value_size), a[3])
    if not err and old:
        # kernel: array_map_update_elem / htab_map_update_elem free the old value's special
        # fields (bpf_obj_free_fields): its timer is cancelled and freed
        free_timers(k, old, state.mdef.value_size)
    return err & MASK64


@_helper("tail_call")
def _tail_call(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # do_misc_fixups makes a tail call BPF_JMP|BPF_TAIL_CALL, no helper call: the interpreter runs
    # it itself (framework.run.interp), the JIT emits it (framework.jit.lower.lower_tail_call); only
    # a call the fixup stage did not rewrite (its verifier record is missing) reaches this
    raise NotEmulated("bpf_tail_call as a helper call: the fixup stage did not rewrite it into BPF_TAIL_CALL")


@_helper("map_delete_elem")
def _map_delete_elem(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    state = k._map(a[0])
    key = k.memory.read(a[1], state.mdef.key_size)
    old = state.lookup(key)
    err = state.delete(key)
    if not err and old:
        free_timers(k, old, state.mdef.value_size)  # kernel: htab_elem_free -> check_and_free_fields
    return err & MASK64


@_helper("for_each_map_elem")
def _for_each_map_elem(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # bpf_for_each_array_elem / bpf_for_each_hash_elem: callback(map, key, value, ctx); 1 stops
    if a[3]:
        return _neg(EINVAL)
    state = k._map(a[0])
    done = 0
    for key in state.all_keys():
        value = state.lookup(key)
        if not value:
            continue
        key_region = k.memory.map("for_each key", "mem", key, writable=False)
        done += 1
        if e.invoke(a[1], (a[0], key_region.base, value, a[2], 0)):
            break
    return done


# -- time, randomness, the current task (kernel/bpf/helpers.c) ---------------------------------


@_helper("ktime_get_ns")
@_helper("ktime_get_boot_ns")
@_helper("ktime_get_coarse_ns")
@_helper("ktime_get_tai_ns")
def _ktime(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    k._clock += KTIME_STEP
    return k._clock


HZ = 1000  # CONFIG_HZ as the emulated kernel has it (the live kernel's may differ)
INITIAL_JIFFIES = (-300 * HZ) & 0xFFFFFFFF  # include/linux/jiffies.h: wraps five minutes after boot


@_helper("jiffies64")
def _jiffies64(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_jiffies64 -> get_jiffies_64, read from the emulated clock (which starts at 1 s)
    return INITIAL_JIFFIES + k._clock * HZ // 1_000_000_000


@_helper("get_prandom_u32")
def _prandom(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    x = k._random  # xorshift32: deterministic stand-in for bpf_user_rnd_u32
    x ^= (x << 13) & 0xFFFFFFFF
    x ^= x >> 17
    x ^= (x << 5) & 0xFFFFFFFF
    k._random = x
    return x


@_helper("get_smp_processor_id")
@_helper("get_numa_node_id")
def _cpu0(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return 0


@_helper("get_current_pid_tgid")
def _pid_tgid(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return (CURRENT_PID << 32) | CURRENT_PID


@_helper("get_current_uid_gid")
def _uid_gid(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return 0  # root runs the test


@_helper("get_current_comm")
def _comm(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    size = a[1] & 0xFFFFFFFF
    if size:
        k.memory.write(a[0], b"bakeoff".ljust(16, b"\0")[:size][:-1] + b"\0")
    return 0


@_helper("get_current_task")
@_helper("get_current_task_btf")
def _current_task(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    assert k.objects.current is not None
    return k.objects.current.addr


BPF_F_INDEX_MASK = 0xFFFFFFFF  # uapi: also BPF_F_CURRENT_CPU
BPF_F_CTXLEN_MASK = 0xFFFFF << 32


@_helper("perf_event_output")
def _perf_event_output(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_perf_event_output / bpf_skb_event_output -> __bpf_perf_event_output. The emulated
    # perf_event_array holds no perf event (a test run opens none), so a good index is -ENOENT.
    flags = a[2]
    if flags & ~(BPF_F_INDEX_MASK | BPF_F_CTXLEN_MASK):
        return _neg(EINVAL)
    if flags & BPF_F_CTXLEN_MASK:
        raise NotEmulated("bpf_perf_event_output with a context length (BPF_F_CTXLEN_MASK) is not emulated")
    m = k._map(a[1])
    index = flags & BPF_F_INDEX_MASK
    if index == BPF_F_INDEX_MASK:  # BPF_F_CURRENT_CPU
        index = 0  # the emulated machine runs on CPU 0 (bpf_get_smp_processor_id)
    if index >= m.mdef.max_entries:
        return _neg(E2BIG)
    return _neg(ENOENT)


BPF_SOCK_OPS_WRITE_HDR_OPT_CB = 15  # uapi enum: the last op run under the TCP socket's lock


@_helper("setsockopt")
@_helper("getsockopt")
def _sockopt(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_sock_ops_setsockopt / bpf_sock_ops_getsockopt: an op outside the locked TCP
    # callbacks (is_locked_tcp_sock_ops) is -EOPNOTSUPP before the socket is looked at. The emulated
    # context carries no socket, so an op that would reach one is not emulated.
    op = k.memory.load(a[0], 4)  # bpf_sock_ops.op, the program's own view of the context
    if op > BPF_SOCK_OPS_WRITE_HDR_OPT_CB:
        return _neg(EOPNOTSUPP)
    raise NotEmulated(f"bpf_setsockopt/bpf_getsockopt on a sock_ops op {op} socket is not emulated")


PERF_EVENT_VALUE_SIZE = 24  # sizeof(struct bpf_perf_event_value): counter, enabled, running


def _perf_counter(k: EmulatedKernel, map_ptr: int, flags: int) -> int:
    # kernel: get_map_perf_counter. The emulated perf_event_array holds no perf event, so a good
    # index is -ENOENT, as for bpf_perf_event_output.
    if flags & ~BPF_F_INDEX_MASK:
        return _neg(EINVAL)
    index = flags & BPF_F_INDEX_MASK
    if index == BPF_F_INDEX_MASK:  # BPF_F_CURRENT_CPU: the emulated machine runs on CPU 0
        index = 0
    if index >= k._map(map_ptr).mdef.max_entries:
        return _neg(E2BIG)
    return _neg(ENOENT)


@_helper("perf_event_read")
def _perf_event_read(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_perf_event_read -> get_map_perf_counter
    return _perf_counter(k, a[0], a[1])


@_helper("perf_event_read_value")
def _perf_event_read_value(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_perf_event_read_value: a size other than struct bpf_perf_event_value's is -EINVAL;
    # on any error the buffer is zeroed
    size = a[3] & 0xFFFFFFFF
    err = _neg(EINVAL) if size != PERF_EVENT_VALUE_SIZE else _perf_counter(k, a[0], a[1])
    k.memory.write(a[2], bytes(size))
    return err


EAGAIN = 11


def cgroup_array_slot(k: EmulatedKernel, map_ptr: int, index: int, helper: str) -> int:
    # kernel: bpf_current_task_under_cgroup, bpf_skb_under_cgroup: an index past the cgroup_array
    # is -E2BIG, an empty slot -EAGAIN; the hierarchy walk for a cgroup in it is not emulated
    m = k._map(map_ptr)
    if index & 0xFFFFFFFF >= m.mdef.max_entries:
        return _neg(E2BIG)
    if m.values is not None and any(m.values.data):  # a run input placed a cgroup in the array
        raise NotEmulated(f"{helper} on a cgroup_array holding a cgroup is not emulated")
    return _neg(EAGAIN)


@_helper("current_task_under_cgroup")
def _current_task_under_cgroup(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return cgroup_array_slot(k, a[0], a[1], "bpf_current_task_under_cgroup")


@_helper("perf_prog_read_value")
def _perf_prog_read_value(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_perf_prog_read_value: a size other than struct bpf_perf_event_value's is -EINVAL
    # and the buffer zeroed; otherwise it reads the event that fired, which the emulated context lacks
    size = a[2] & 0xFFFFFFFF
    if size != PERF_EVENT_VALUE_SIZE:
        k.memory.write(a[1], bytes(size))
        return _neg(EINVAL)
    raise NotEmulated("bpf_perf_prog_read_value of the event that fired is not emulated")


@_helper("sock_map_update")
def _sock_map_update(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_sock_map_update adds the sock_ops program's socket, which the emulated context lacks
    raise NotEmulated("bpf_sock_map_update of a sock_ops socket is not emulated")


XDP_ABORTED = 0
BPF_F_ACTION_MASK = 3  # include/linux/filter.h: XDP_ABORTED | XDP_DROP | XDP_PASS | XDP_TX
BPF_F_BROADCAST, BPF_F_EXCLUDE_INGRESS = 1 << 3, 1 << 4  # uapi


@_helper("redirect_map")
def _redirect_map(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_xdp_redirect_map -> __bpf_xdp_redirect_map: the flags' low bits are the action on a
    # failed lookup. The emulated maps hold no device, CPU or socket, so every lookup fails.
    m = k._map(a[0])
    flags = a[2]
    allowed = BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS if m.mdef.map_type in ("devmap", "devmap_hash") else 0
    if flags & ~(BPF_F_ACTION_MASK | allowed):
        return XDP_ABORTED
    if flags & BPF_F_BROADCAST or m.entries:
        raise NotEmulated(f"bpf_redirect_map to a {m.mdef.map_type} target is not emulated")
    return flags & BPF_F_ACTION_MASK


@_helper("get_current_cgroup_id")
def _current_cgroup_id(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return ROOT_CGROUP_ID


@_helper("trace_printk")
def _trace_printk(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    fmt = k.memory.read(a[0], a[1] & 0xFFFFFFFF).split(b"\0", 1)[0].decode("latin-1")
    k.trace.append(fmt)
    return len(fmt)


def copy_from_packet(k: EmulatedKernel, dst: int, off: int | None, length: int) -> int:
    # kernel: bpf_skb_load_bytes(_relative): `length` bytes at `off` into the packet, or -EFAULT
    # and the buffer cleared where they are not all in it (`off` None: the start was refused)
    span = k.packet()
    if span is None or off is None or off < 0 or off + length > span[1]:
        if length:
            k.memory.write(dst, bytes(length))
        return _neg(EFAULT)
    k.memory.write(dst, k.memory.read(span[0] + off, length))
    return 0


@_helper("skb_load_bytes")
def _skb_load_bytes(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return copy_from_packet(k, a[2], _s32(a[1]), a[3] & 0xFFFFFFFF)


@_helper("loop")
def _loop(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel/bpf/bpf_iter.c bpf_loop: callback(i, ctx); a nonzero return stops after i + 1
    nr, flags = a[0] & 0xFFFFFFFF, a[3]
    if flags:
        return _neg(EINVAL)
    if nr > BPF_MAX_LOOPS:
        return _neg(E2BIG)
    for i in range(nr):
        if e.invoke(a[1], (i, a[2], 0, 0, 0)):
            return i + 1
    return nr


# -- locks and sections -----------------------------------------------------------------------


@_helper("spin_lock")
def _spin_lock(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    k.memory.store(a[0], 4, 1)
    k._acquire("spin_lock", a[0], e, "bpf_spin_lock")
    return 0


@_helper("spin_unlock")
def _spin_unlock(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    k.memory.store(a[0], 4, 0)
    k._release("spin_lock", a[0], e, "bpf_spin_unlock")
    return 0


def _section(kind: str, enter: str, leave: str) -> None:
    """A nesting section (RCU read side, preemption off): each level is one ledger entry."""

    def on_enter(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
        k._acquire(kind, 0, e, enter)
        return 0

    def on_leave(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
        k._release(kind, 0, e, leave)
        return 0

    _KFUNCS[enter] = on_enter
    _KFUNCS[leave] = on_leave


_section("rcu", "bpf_rcu_read_lock", "bpf_rcu_read_unlock")
_section("preempt", "bpf_preempt_disable", "bpf_preempt_enable")


@_kfunc("bpf_local_irq_save")
def _irq_save(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    k.memory.store(a[0], 8, 0x246)  # the saved flags (IF set), opaque to the program
    k._acquire("irq", a[0], e, "bpf_local_irq_save")
    return 0


@_kfunc("bpf_local_irq_restore")
def _irq_restore(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    k._release("irq", a[0], e, "bpf_local_irq_restore")
    return 0


# -- allocated objects (kernel/bpf/helpers.c bpf_obj_new_impl and friends) -----------------------


@_kfunc("bpf_obj_new_impl")
def _obj_new(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return k._new_obj("obj", a[0] & 0xFFFFFFFF, e, "bpf_obj_new_impl")


@_kfunc("bpf_percpu_obj_new_impl")
def _percpu_obj_new(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return k._new_obj("percpu_obj", a[0] & 0xFFFFFFFF, e, "bpf_percpu_obj_new_impl")


@_kfunc("bpf_obj_drop_impl")
def _obj_drop(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return k._drop_obj("obj", a[0], e, "bpf_obj_drop_impl")


@_kfunc("bpf_percpu_obj_drop_impl")
def _percpu_obj_drop(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return k._drop_obj("percpu_obj", a[0], e, "bpf_percpu_obj_drop_impl")


@_kfunc("bpf_refcount_acquire_impl")
def _refcount_acquire(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # refcount_inc_not_zero: NULL once the object is gone
    alloc = k._allocs.get(a[0])
    if alloc is None or alloc.refs == 0:
        gone = [r for r in k.ledger.resources if r.kind == "obj" and r.handle == a[0]]
        if gone:
            k.ledger.use(gone[-1], e.pc, "bpf_refcount_acquire_impl")
        return 0
    alloc.refs += 1
    k._acquire("obj", a[0], e, "bpf_refcount_acquire_impl")
    return a[0]


# -- tasks and cgroups (kernel/bpf/helpers.c) -----------------------------------------------------


@_kfunc("bpf_task_from_pid", "bpf_task_from_vpid")
def _task_from_pid(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    task = k.objects.find_task(_s32(a[0]))
    if task is None:
        return 0
    k._acquire("task", task.addr, e, "bpf_task_from_pid")
    return task.addr


@_kfunc("bpf_task_acquire")
def _task_acquire(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    k._acquire("task", a[0], e, "bpf_task_acquire")
    return a[0]


@_kfunc("bpf_task_release")
def _task_release(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    k._release("task", a[0], e, "bpf_task_release")
    return 0


@_kfunc("bpf_cgroup_from_id")
def _cgroup_from_id(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    cgrp = k.objects.cgroups.get(a[0])
    if cgrp is None:
        return 0
    k._acquire("cgroup", cgrp.addr, e, "bpf_cgroup_from_id")
    return cgrp.addr


@_kfunc("bpf_cgroup_acquire")
def _cgroup_acquire(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    k._acquire("cgroup", a[0], e, "bpf_cgroup_acquire")
    return a[0]


@_kfunc("bpf_cgroup_ancestor")
def _cgroup_ancestor(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # every declared cgroup is a child of the root: level 0 is the root, its own level is itself
    cgrp = k.objects.by_address(a[0])
    level = _s32(a[1])
    if cgrp is None or cgrp.kind != "cgroup":
        return 0
    own_level = int.from_bytes(k.memory.read(a[0] + _cgroup_level_offset(), 4), "little", signed=True)
    if level == own_level:
        target = cgrp
    elif level == 0:
        target = k.objects.cgroups[ROOT_CGROUP_ID]
    else:
        return 0
    k._acquire("cgroup", target.addr, e, "bpf_cgroup_ancestor")
    return target.addr


def _cgroup_level_offset() -> int:
    from framework.kernel.objects import cgroup_layout

    return cgroup_layout()[0]


@_kfunc("bpf_cgroup_release")
def _cgroup_release(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    k._release("cgroup", a[0], e, "bpf_cgroup_release")
    return 0


@_kfunc("bpf_cpumask_create")
def _cpumask_create(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    region = k.memory.map("cpumask", "object", bytes(16))
    region.resource = k._acquire("cpumask", region.base, e, "bpf_cpumask_create").id
    return region.base


@_kfunc("bpf_cpumask_release")
def _cpumask_release(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    k._release("cpumask", a[0], e, "bpf_cpumask_release")
    return 0


# -- sockets (net/core/filter.c bpf_sk_lookup_tcp / bpf_sk_release) --------------------------------


def _sk_lookup(k: EmulatedKernel, a: Sequence[int], e: Engine, proto: str, by: str) -> int:
    size, flags = a[2] & 0xFFFFFFFF, a[4]
    if flags:
        return 0
    if size == 12:  # sizeof(tuple->ipv4)
        t = k.memory.read(a[1], 12)
        family, saddr, daddr, sport, dport = "ipv4", t[0:4], t[4:8], t[8:10], t[10:12]
    elif size == 36:  # sizeof(tuple->ipv6)
        t = k.memory.read(a[1], 36)
        family, saddr, daddr, sport, dport = "ipv6", t[0:16], t[16:32], t[32:34], t[34:36]
    else:
        return 0
    sock = k.objects.find_socket(
        proto, family, daddr, int.from_bytes(dport, "big"), saddr, int.from_bytes(sport, "big")
    )
    if sock is None:
        return 0
    k._acquire("socket", sock.addr, e, by)
    return sock.addr


@_helper("sk_lookup_tcp")
def _sk_lookup_tcp(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return _sk_lookup(k, a, e, "tcp", "bpf_sk_lookup_tcp")


@_helper("skc_lookup_tcp")
def _skc_lookup_tcp(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return _sk_lookup(k, a, e, "tcp", "bpf_skc_lookup_tcp")


@_helper("sk_lookup_udp")
def _sk_lookup_udp(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return _sk_lookup(k, a, e, "udp", "bpf_sk_lookup_udp")


@_helper("sk_release")
def _sk_release(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    k._release("socket", a[0], e, "bpf_sk_release")
    return 0


# -- ring buffers and dynptrs (kernel/bpf/ringbuf.c, helpers.c) ---------------------------------------


@_helper("ringbuf_reserve")
def _ringbuf_reserve(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    state = k._map(a[0])
    size = a[1]
    if a[2] or not state.is_ringbuf or size > state.mdef.max_entries or not state.ring_reserve(size):
        return 0
    region = k.memory.map(f"ringbuf {state.mdef.name} record", "object", bytes(max(size, 1)))
    region.resource = k._acquire("ringbuf", region.base, e, "bpf_ringbuf_reserve").id
    return region.base


def _ringbuf_commit(k: EmulatedKernel, addr: int, e: Engine, by: str) -> int:
    res = k._release("ringbuf", addr, e, by)
    region = k.memory.region_at(addr)
    if region is not None and res is not None and region.base == addr:
        k._watch_freed(region, res)
    return 0


@_helper("ringbuf_submit")
def _ringbuf_submit(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return _ringbuf_commit(k, a[0], e, "bpf_ringbuf_submit")


@_helper("ringbuf_discard")
def _ringbuf_discard(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return _ringbuf_commit(k, a[0], e, "bpf_ringbuf_discard")


def _dynptr_write(k: EmulatedKernel, ptr: int, data: int, size: int, kind: int) -> None:
    k.memory.write(
        ptr, data.to_bytes(8, "little") + ((kind << DYNPTR_TYPE_SHIFT) | size).to_bytes(4, "little") + bytes(4)
    )


def _dynptr_read(k: EmulatedKernel, ptr: int) -> tuple[int, int, int]:
    raw = k.memory.read(ptr, 16)
    data = int.from_bytes(raw[0:8], "little")
    word = int.from_bytes(raw[8:12], "little")
    return data, word & DYNPTR_SIZE_MASK, int.from_bytes(raw[12:16], "little")


@_helper("ringbuf_reserve_dynptr")
def _ringbuf_reserve_dynptr(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # the dynptr needs submit/discard even when the reservation fails (it is then NULL)
    state = k._map(a[0])
    size, ptr = a[1] & 0xFFFFFFFF, a[3]
    k._acquire("ringbuf_dynptr", ptr, e, "bpf_ringbuf_reserve_dynptr")
    if a[2]:
        _dynptr_write(k, ptr, 0, 0, 0)
        return _neg(EINVAL)
    if size > DYNPTR_SIZE_MASK or not state.is_ringbuf or not state.ring_reserve(size):
        _dynptr_write(k, ptr, 0, 0, 0)
        return _neg(E2BIG if size > DYNPTR_SIZE_MASK else ENOMEM)
    region = k.memory.map(f"ringbuf {state.mdef.name} record", "object", bytes(max(size, 1)))
    _dynptr_write(k, ptr, region.base, size, DYNPTR_RINGBUF)
    return 0


def _ringbuf_dynptr_commit(k: EmulatedKernel, a: Sequence[int], e: Engine, by: str) -> int:
    data, _size, _off = _dynptr_read(k, a[0])
    res = k._release("ringbuf_dynptr", a[0], e, by)
    region = k.memory.region_at(data) if data else None
    if region is not None and res is not None:
        k._watch_freed(region, res)
    _dynptr_write(k, a[0], 0, 0, 0)
    return 0


@_helper("ringbuf_submit_dynptr")
def _ringbuf_submit_dynptr(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return _ringbuf_dynptr_commit(k, a, e, "bpf_ringbuf_submit_dynptr")


@_helper("ringbuf_discard_dynptr")
def _ringbuf_discard_dynptr(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return _ringbuf_dynptr_commit(k, a, e, "bpf_ringbuf_discard_dynptr")


@_helper("dynptr_from_mem")
def _dynptr_from_mem(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    size = a[1] & 0xFFFFFFFF
    if a[2] or size > DYNPTR_SIZE_MASK:
        _dynptr_write(k, a[3], 0, 0, 0)
        return _neg(EINVAL if a[2] else E2BIG)
    _dynptr_write(k, a[3], a[0], size, DYNPTR_LOCAL)
    return 0


@_helper("dynptr_data")
def _dynptr_data(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    data, size, off = _dynptr_read(k, a[0])
    offset, length = a[1] & 0xFFFFFFFF, a[2] & 0xFFFFFFFF
    if not data or offset + length > size:
        return 0
    return data + off + offset


@_helper("dynptr_read")
def _dynptr_read_helper(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    data, size, off = _dynptr_read(k, a[2])
    length, offset = a[1] & 0xFFFFFFFF, a[3] & 0xFFFFFFFF
    if not data or offset + length > size:
        return _neg(EINVAL if not data else E2BIG)
    k.memory.write(a[0], k.memory.read(data + off + offset, length))
    return 0


@_helper("dynptr_write")
def _dynptr_write_helper(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    data, size, off = _dynptr_read(k, a[0])
    offset, length = a[1] & 0xFFFFFFFF, a[3] & 0xFFFFFFFF
    if not data or offset + length > size:
        return _neg(EINVAL if not data else E2BIG)
    k.memory.write(data + off + offset, k.memory.read(a[2], length))
    return 0


@_kfunc("bpf_dynptr_size")
def _dynptr_size(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return _dynptr_read(k, a[0])[1]


# -- numeric iterators (kernel/bpf/bpf_iter.c bpf_iter_num_*) -------------------------------------------


@_kfunc("bpf_iter_num_new")
def _iter_num_new(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # struct bpf_iter_num_kern { int cur; int end; }: cur starts one before `start`
    it, start, end = a[0], _s32(a[1]), _s32(a[2])
    k._acquire("iter_num", it, e, "bpf_iter_num_new")  # destroy is due even when new fails
    if start > end:
        k.memory.write(it, bytes(8))
        return _neg(EINVAL)
    if end - start > BPF_MAX_LOOPS:
        k.memory.write(it, bytes(8))
        return _neg(E2BIG)
    k.memory.write(it, (start - 1).to_bytes(4, "little", signed=True) + end.to_bytes(4, "little", signed=True))
    return 0


@_kfunc("bpf_iter_num_next")
def _iter_num_next(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    raw = k.memory.read(a[0], 8)
    cur, end = int.from_bytes(raw[0:4], "little", signed=True), int.from_bytes(raw[4:8], "little", signed=True)
    if cur + 1 >= end:
        k.memory.write(a[0], bytes(8))
        return 0
    k.memory.write(a[0], (cur + 1).to_bytes(4, "little", signed=True))
    return a[0]  # &s->cur


@_kfunc("bpf_iter_num_destroy")
def _iter_num_destroy(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    k.memory.write(a[0], bytes(8))
    k._release("iter_num", a[0], e, "bpf_iter_num_destroy")
    return 0


# -- per-CPU pointers, kptr stashing, kernel reads (kernel/bpf/helpers.c, kernel/trace/bpf_trace.c) ----


@_helper("per_cpu_ptr")
def _per_cpu_ptr(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return a[0] if a[1] == 0 else 0  # the emulated machine has one CPU


@_helper("this_cpu_ptr")
def _this_cpu_ptr(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return a[0]


@_helper("kptr_xchg")
def _kptr_xchg(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # the map takes the program's reference; the old one, if any, becomes the program's
    old = int.from_bytes(k.memory.read(a[0], 8), "little")
    k.memory.write(a[0], (a[1] & MASK64).to_bytes(8, "little"))
    if a[1]:
        held = k.ledger.live(None, a[1])
        k._release(held[-1].kind if held else "obj", a[1], e, "bpf_kptr_xchg")
    if old:
        known = [r for r in k.ledger.resources if r.handle == old]
        k._acquire(known[-1].kind if known else "obj", old, e, "bpf_kptr_xchg")
    return old


@_helper("probe_read_kernel_str")
@_helper("probe_read_str")
def _probe_read_kernel_str(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_probe_read_kernel_str_common -> strncpy_from_kernel_nofault: up to size - 1
    # bytes and a NUL; the length copied, NUL included; a fault is -EFAULT and the buffer cleared
    size = a[1] & 0xFFFFFFFF
    if not size:
        return 0
    out = bytearray()
    try:
        while len(out) < size:
            byte = k.memory.read(a[2] + len(out), 1)[0]
            out.append(byte)
            if not byte:
                break
    except Fault:
        k.memory.write(a[0], bytes(size))
        return _neg(EFAULT)
    out[-1] = 0
    k.memory.write(a[0], bytes(out))
    return len(out)


@_helper("probe_read_kernel")
@_helper("probe_read")
def _probe_read_kernel(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    size = a[1] & 0xFFFFFFFF
    try:
        data = k.memory.read(a[2], size)
    except Fault:
        k.memory.write(a[0], bytes(size))  # a failed read zeroes the destination
        return _neg(EFAULT)
    k.memory.write(a[0], data)
    return 0


# the packet, checksum and socket helpers (net/core/filter.c) live in their own module, which
# registers them here when it is imported
from framework.kernel import graph_kfuncs, net_helpers, sock_helpers  # noqa: E402, F401
from framework.kernel.timers import Timer, free_timers  # noqa: E402
