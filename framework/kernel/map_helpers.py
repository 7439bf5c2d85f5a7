"""Map helpers (lookup, update, delete, for_each, perf event output and reads, redirects, per-cpu
pointers, kptr_xchg) as the emulated kernel runs them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from framework.kernel.api import Engine, NotEmulated
from framework.kernel.registry import E2BIG, EAGAIN, EINVAL, ENOENT, MASK64, helper_service, neg_errno
from framework.kernel.timers import free_timers

if TYPE_CHECKING:
    from framework.kernel.services import EmulatedKernel


@helper_service("map_lookup_elem")
def _map_lookup_elem(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    state = k._map(a[0])
    return state.lookup(k.memory.read(a[1], state.mdef.key_size))


@helper_service("map_update_elem")
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


@helper_service("tail_call")
def _tail_call(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # do_misc_fixups makes a tail call BPF_JMP|BPF_TAIL_CALL, no helper call: the interpreter runs
    # it itself (framework.run.interp), the JIT emits it (framework.jit.tailcall.lower_tail_call); only
    # a call the fixup stage did not rewrite (its verifier record is missing) reaches this
    raise NotEmulated("bpf_tail_call as a helper call: the fixup stage did not rewrite it into BPF_TAIL_CALL")


@helper_service("map_delete_elem")
def _map_delete_elem(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    state = k._map(a[0])
    key = k.memory.read(a[1], state.mdef.key_size)
    old = state.lookup(key)
    err = state.delete(key)
    if not err and old:
        free_timers(k, old, state.mdef.value_size)  # kernel: htab_elem_free -> check_and_free_fields
    return err & MASK64


@helper_service("for_each_map_elem")
def _for_each_map_elem(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # bpf_for_each_array_elem / bpf_for_each_hash_elem: callback(map, key, value, ctx); 1 stops
    if a[3]:
        return neg_errno(EINVAL)
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


BPF_F_INDEX_MASK = 0xFFFFFFFF  # uapi: also BPF_F_CURRENT_CPU
BPF_F_CTXLEN_MASK = 0xFFFFF << 32


@helper_service("perf_event_output")
def _perf_event_output(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_perf_event_output / bpf_skb_event_output -> __bpf_perf_event_output. The emulated
    # perf_event_array holds no perf event (a test run opens none), so a good index is -ENOENT.
    flags = a[2]
    if flags & ~(BPF_F_INDEX_MASK | BPF_F_CTXLEN_MASK):
        return neg_errno(EINVAL)
    if flags & BPF_F_CTXLEN_MASK:
        raise NotEmulated("bpf_perf_event_output with a context length (BPF_F_CTXLEN_MASK) is not emulated")
    m = k._map(a[1])
    index = flags & BPF_F_INDEX_MASK
    if index == BPF_F_INDEX_MASK:  # BPF_F_CURRENT_CPU
        index = 0  # the emulated machine runs on CPU 0 (bpf_get_smp_processor_id)
    if index >= m.mdef.max_entries:
        return neg_errno(E2BIG)
    return neg_errno(ENOENT)


PERF_EVENT_VALUE_SIZE = 24  # sizeof(struct bpf_perf_event_value): counter, enabled, running


def _perf_counter(k: EmulatedKernel, map_ptr: int, flags: int) -> int:
    # kernel: get_map_perf_counter. The emulated perf_event_array holds no perf event, so a good
    # index is -ENOENT, as for bpf_perf_event_output.
    if flags & ~BPF_F_INDEX_MASK:
        return neg_errno(EINVAL)
    index = flags & BPF_F_INDEX_MASK
    if index == BPF_F_INDEX_MASK:  # BPF_F_CURRENT_CPU: the emulated machine runs on CPU 0
        index = 0
    if index >= k._map(map_ptr).mdef.max_entries:
        return neg_errno(E2BIG)
    return neg_errno(ENOENT)


@helper_service("perf_event_read")
def _perf_event_read(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_perf_event_read -> get_map_perf_counter
    return _perf_counter(k, a[0], a[1])


@helper_service("perf_event_read_value")
def _perf_event_read_value(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_perf_event_read_value: a size other than struct bpf_perf_event_value's is -EINVAL;
    # on any error the buffer is zeroed
    size = a[3] & 0xFFFFFFFF
    err = neg_errno(EINVAL) if size != PERF_EVENT_VALUE_SIZE else _perf_counter(k, a[0], a[1])
    k.memory.write(a[2], bytes(size))
    return err


def cgroup_array_slot(k: EmulatedKernel, map_ptr: int, index: int, helper: str) -> int:
    # kernel: bpf_current_task_under_cgroup, bpf_skb_under_cgroup: an index past the cgroup_array
    # is -E2BIG, an empty slot -EAGAIN; the hierarchy walk for a cgroup in it is not emulated
    m = k._map(map_ptr)
    if index & 0xFFFFFFFF >= m.mdef.max_entries:
        return neg_errno(E2BIG)
    if m.values is not None and any(m.values.data):  # a run input placed a cgroup in the array
        raise NotEmulated(f"{helper} on a cgroup_array holding a cgroup is not emulated")
    return neg_errno(EAGAIN)


@helper_service("current_task_under_cgroup")
def _current_task_under_cgroup(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return cgroup_array_slot(k, a[0], a[1], "bpf_current_task_under_cgroup")


@helper_service("perf_prog_read_value")
def _perf_prog_read_value(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_perf_prog_read_value: a size other than struct bpf_perf_event_value's is -EINVAL
    # and the buffer zeroed; otherwise it reads the event that fired, which the emulated context lacks
    size = a[2] & 0xFFFFFFFF
    if size != PERF_EVENT_VALUE_SIZE:
        k.memory.write(a[1], bytes(size))
        return neg_errno(EINVAL)
    raise NotEmulated("bpf_perf_prog_read_value of the event that fired is not emulated")


@helper_service("sock_map_update")
def _sock_map_update(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_sock_map_update adds the sock_ops program's socket, which the emulated context lacks
    raise NotEmulated("bpf_sock_map_update of a sock_ops socket is not emulated")


XDP_ABORTED = 0
BPF_F_ACTION_MASK = 3  # include/linux/filter.h: XDP_ABORTED | XDP_DROP | XDP_PASS | XDP_TX
BPF_F_BROADCAST, BPF_F_EXCLUDE_INGRESS = 1 << 3, 1 << 4  # uapi


@helper_service("redirect_map")
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


@helper_service("per_cpu_ptr")
def _per_cpu_ptr(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return a[0] if a[1] == 0 else 0  # the emulated machine has one CPU


@helper_service("this_cpu_ptr")
def _this_cpu_ptr(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return a[0]


@helper_service("kptr_xchg")
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
