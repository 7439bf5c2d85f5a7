"""The current task, time, random numbers, trace_printk and probe reads, as the emulated kernel runs them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from framework.kernel.api import Engine
from framework.kernel.memory import Fault
from framework.kernel.objects import CURRENT_PID, ROOT_CGROUP_ID
from framework.kernel.registry import EFAULT, KTIME_STEP, as_s32, helper_service, neg_errno

if TYPE_CHECKING:
    from framework.kernel.services import EmulatedKernel


@helper_service("ktime_get_ns")
@helper_service("ktime_get_boot_ns")
@helper_service("ktime_get_coarse_ns")
@helper_service("ktime_get_tai_ns")
def _ktime(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    k._clock += KTIME_STEP
    return k._clock


HZ = 1000  # CONFIG_HZ as the emulated kernel has it (the live kernel's may differ)
INITIAL_JIFFIES = (-300 * HZ) & 0xFFFFFFFF  # include/linux/jiffies.h: wraps five minutes after boot


@helper_service("jiffies64")
def _jiffies64(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_jiffies64 -> get_jiffies_64, read from the emulated clock (which starts at 1 s)
    return INITIAL_JIFFIES + k._clock * HZ // 1_000_000_000


@helper_service("get_prandom_u32")
def _prandom(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    x = k._random  # xorshift32: deterministic stand-in for bpf_user_rnd_u32
    x ^= (x << 13) & 0xFFFFFFFF
    x ^= x >> 17
    x ^= (x << 5) & 0xFFFFFFFF
    k._random = x
    return x


@helper_service("get_smp_processor_id")
@helper_service("get_numa_node_id")
def _cpu0(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return 0


@helper_service("get_current_pid_tgid")
def _pid_tgid(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return (CURRENT_PID << 32) | CURRENT_PID


@helper_service("get_current_uid_gid")
def _uid_gid(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return 0  # root runs the test


@helper_service("get_current_comm")
def _comm(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    size = a[1] & 0xFFFFFFFF
    if size:
        k.memory.write(a[0], b"bakeoff".ljust(16, b"\0")[:size][:-1] + b"\0")
    return 0


@helper_service("get_current_task")
@helper_service("get_current_task_btf")
def _current_task(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    assert k.objects.current is not None
    return k.objects.current.addr


@helper_service("get_current_cgroup_id")
def _current_cgroup_id(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return ROOT_CGROUP_ID


@helper_service("trace_printk")
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
        return neg_errno(EFAULT)
    k.memory.write(dst, k.memory.read(span[0] + off, length))
    return 0


@helper_service("skb_load_bytes")
def _skb_load_bytes(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return copy_from_packet(k, a[2], as_s32(a[1]), a[3] & 0xFFFFFFFF)


@helper_service("probe_read_kernel_str")
@helper_service("probe_read_str")
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
        return neg_errno(EFAULT)
    out[-1] = 0
    k.memory.write(a[0], bytes(out))
    return len(out)


@helper_service("probe_read_kernel")
@helper_service("probe_read")
def _probe_read_kernel(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    size = a[1] & 0xFFFFFFFF
    try:
        data = k.memory.read(a[2], size)
    except Fault:
        k.memory.write(a[0], bytes(size))  # a failed read zeroes the destination
        return neg_errno(EFAULT)
    k.memory.write(a[0], data)
    return 0
