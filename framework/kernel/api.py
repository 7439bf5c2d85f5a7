"""The interface between an engine (interpreter or JIT) and the emulated kernel.

Services take arguments and return a value; they reach guest memory only through
`Kernel.memory`, and call back into BPF (bpf_loop's callback) only through
`Engine.invoke`, so every engine can share them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from framework.isa.insn import Insn
from framework.kernel.memory import AddressSpace

__all__ = ["Engine", "Kernel", "KernelFault", "NotEmulated"]


class KernelFault(Exception):
    """A service refused an argument a verified program could not pass (a bad pointer, a bad map)."""


class NotEmulated(KernelFault):
    """The run reached a service, or a case of one, the emulated kernel does not model: the run's
    verdict is `unsupported` (exit 3), naming it, not a fault of the program."""


class Engine(Protocol):
    """What a service may ask of the engine that called it."""

    @property
    def pc(self) -> int:
        """The BPF pc of the call being served (the ledger records it)."""
        ...

    def invoke(self, func_addr: int, args: Sequence[int]) -> int:
        """Run the BPF function at `func_addr` (from ld_imm64 of a function) and return its r0."""
        ...


class Kernel(Protocol):
    """The services an engine calls."""

    memory: AddressSpace
    unwinding: bool  # set by the engine while an unwinder runs: releases count as the unwinder's

    def helper(self, func_id: int, args: Sequence[int], engine: Engine) -> int: ...

    def kfunc(self, name: str, args: Sequence[int], engine: Engine) -> int: ...

    def unwind_release(self, number: int, value: int, engine: Engine) -> int:
        """A runtime releases kind `number` (framework.kernel.kinds) held as `value`, as the unwinder."""
        ...

    def ld_imm64(self, insn: Insn, pc: int) -> int:
        """The value of an ld_imm64 with a pseudo source (map, map value, BTF id)."""
        ...

    def packet(self) -> tuple[int, int] | None:
        """(address, linear length) of the packet for LD_ABS/LD_IND, or None when there is none."""
        ...

    def packet_load(self, offset: int, size: int) -> int | None:
        """Where LD_ABS/LD_IND's bpf_skb_load_helper_* reads `size` bytes at `offset` (SKF_NET_OFF and
        SKF_LL_OFF offsets from the network and mac headers included), or None where it fails."""
        ...

    def func_address(self, pc: int) -> int:
        """The address an ld_imm64 of the function at `pc` yields."""
        ...

    def func_pc(self, addr: int) -> int | None:
        """The pc of the function at `addr`, or None if `addr` is no function."""
        ...
