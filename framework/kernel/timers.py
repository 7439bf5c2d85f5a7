"""bpf_timer in the emulated kernel (kernel/bpf/helpers.c): each timer's state, by its address.

Behind a map value's `struct bpf_timer` (`struct bpf_async_kern`) the kernel keeps a pointer to
the `struct bpf_hrtimer` bpf_timer_init allocates; bpf_timer_set_callback stores the program and
callback in it, bpf_timer_start arms its hrtimer and bpf_timer_cancel disarms it. Here a timer
is that state, keyed by the address of its `struct bpf_timer`: absent (not initialised),
initialised with a clock, a callback set, armed. The map holding it is always held by user space
(the test run's loader keeps its file descriptor), so the kernel's `map->usercnt` checks (-EPERM)
never refuse; nor is a test run in NMI (-EOPNOTSUPP).

The callback never runs within the run. The kernel's runs from the hrtimer's softirq
(bpf_timer_cb) once the time has passed, after BPF_PROG_TEST_RUN has returned, or never: closing
the map's last file descriptor cancels and frees every timer in it (bpf_map_free_timers). The
emulated run is over before, so an armed timer is only its state. Updating or deleting a map
element frees its timer (bpf_obj_free_fields -> bpf_timer_cancel_and_free): `free_timers`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from framework.kernel.api import Engine
from framework.kernel.registry import EINVAL, helper_service, neg_errno

if TYPE_CHECKING:
    from framework.kernel.services import EmulatedKernel

__all__ = ["EBUSY", "Timer", "free_timers"]

EBUSY = 16
MAX_CLOCKS = 16  # include/uapi/linux/time.h; bpf_timer_init: BUILD_BUG_ON(MAX_CLOCKS != 16)
CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME = 0, 1, 7
BPF_F_TIMER_ABS, BPF_F_TIMER_CPU_PIN = 1, 2  # uapi bpf.h: bpf_timer_start's flags


@dataclass(slots=True)
class Timer:
    """struct bpf_hrtimer, the part a test run can see."""

    clock: int
    callback: int = 0  # the callback's address (t->cb.callback_fn); 0: none set (t->cb.prog NULL)
    armed: bool = False  # hrtimer_active


def free_timers(k: EmulatedKernel, addr: int, size: int) -> None:
    """bpf_obj_free_fields over a map value at `addr`: its timer cancelled and freed."""
    for at in [a for a in k.timers if addr <= a < addr + size]:
        del k.timers[at]


@helper_service("timer_init")
def _timer_init(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_timer_init (the clock in flags) -> __bpf_async_init (-EBUSY once initialised)
    timer, flags = a[0], a[2]
    clock = flags & (MAX_CLOCKS - 1)
    if flags >= MAX_CLOCKS or clock not in (CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME):
        return neg_errno(EINVAL)
    if timer in k.timers:
        return neg_errno(EBUSY)
    k.timers[timer] = Timer(clock)
    return 0


@helper_service("timer_set_callback")
def _timer_set_callback(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_timer_set_callback -> __bpf_async_set_callback (-EINVAL before bpf_timer_init)
    t = k.timers.get(a[0])
    if t is None:
        return neg_errno(EINVAL)
    t.callback = a[1]
    return 0


@helper_service("timer_start")
def _timer_start(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_timer_start: flags first, then a timer initialised with a callback; hrtimer_start
    if a[2] & ~(BPF_F_TIMER_ABS | BPF_F_TIMER_CPU_PIN):
        return neg_errno(EINVAL)
    t = k.timers.get(a[0])
    if t is None or not t.callback:
        return neg_errno(EINVAL)
    t.armed = True  # it fires later, out of the test run (see the module's note)
    return 0


@helper_service("timer_cancel")
def _timer_cancel(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_timer_cancel: -EINVAL before bpf_timer_init; hrtimer_cancel: 1 if it was armed
    # (-EDEADLK, a callback cancelling its own timer, needs the callback to run: never here)
    t = k.timers.get(a[0])
    if t is None:
        return neg_errno(EINVAL)
    was, t.armed = t.armed, False
    return int(was)
