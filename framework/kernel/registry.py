"""The emulated kernel's service tables: every helper and kfunc registers here by name, with the
errno values and the clock the services share."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from framework.kernel.api import Engine
from framework.kernel.memory import Region

if TYPE_CHECKING:
    from framework.kernel.services import EmulatedKernel


MASK64 = (1 << 64) - 1
EINVAL, ENOENT, E2BIG, EFAULT, ENOMEM, EOPNOTSUPP = 22, 2, 7, 14, 12, 95
KTIME_START, KTIME_STEP = 1_000_000_000, 1_000  # ktime: starts at 1 s, 1 us per call
Service = Callable[["EmulatedKernel", Sequence[int], Engine], int]
HELPERS: dict[str, Service] = {}
KFUNCS: dict[str, Service] = {}


def helper_service(name: str) -> Callable[[Service], Service]:
    def register(fn: Service) -> Service:
        HELPERS[name] = fn
        return fn

    return register


def kfunc_service(*names: str) -> Callable[[Service], Service]:
    def register(fn: Service) -> Service:
        for name in names:
            KFUNCS[name] = fn
        return fn

    return register


def neg_errno(errno: int) -> int:
    return -errno & MASK64


def as_s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


@dataclass(eq=False, slots=True)
class Alloc:
    """An object from bpf_obj_new / bpf_percpu_obj_new with its refcount (bpf_refcount)."""

    region: Region
    kind: str
    refs: int = 1


EAGAIN = 11
