"""The bpf_conformance suite's harness as a kernel: r1 the memory, r2 its length, helper 5.

The suite (bpf_conformance src/bpf_conformance.cc and its plugins) hands the
program a buffer in r1 and its size in r2, and registers helper 5 (ubpf's
"unwind" helper); DESIGN.md has it return without effect: r0 = r1. Nothing else
exists: maps, kfuncs, packets and other helpers fault.
"""

from __future__ import annotations

from collections.abc import Sequence

from framework.isa.insn import Insn
from framework.kernel.api import Engine, KernelFault
from framework.kernel.memory import AddressSpace

__all__ = ["ConformanceKernel"]

CONFORMANCE_HELPER = 5
FUNC_BASE = 0xFFFF_FFFF_C000_0000


class ConformanceKernel:
    def __init__(self, mem: bytes) -> None:
        self.memory = AddressSpace()
        self.unwinding = False
        self.mem_region = self.memory.map("conformance memory", "mem", mem)
        self.helper_calls = 0

    @property
    def args(self) -> tuple[int, int]:
        """r1 and r2 as the harness sets them."""
        return self.mem_region.base, len(self.mem_region.data)

    def helper(self, func_id: int, args: Sequence[int], engine: Engine) -> int:
        if func_id != CONFORMANCE_HELPER:
            raise KernelFault(f"helper {func_id} is not registered by the conformance harness")
        self.helper_calls += 1
        return args[0]

    def kfunc(self, name: str, args: Sequence[int], engine: Engine) -> int:
        raise KernelFault(f"kfunc {name} does not exist in the conformance harness")

    def unwind_release(self, number: int, value: int, engine: Engine) -> int:
        raise KernelFault("the conformance harness holds no resources for an unwinder to release")

    def ld_imm64(self, insn: Insn, pc: int) -> int:
        raise KernelFault(f"ld_imm64 with pseudo source {insn.src} has nothing to refer to in the conformance harness")

    def packet(self) -> tuple[int, int] | None:
        return None

    def packet_load(self, offset: int, size: int) -> int | None:
        return None

    def func_address(self, pc: int) -> int:
        return FUNC_BASE + 8 * pc

    def func_pc(self, addr: int) -> int | None:
        if addr >= FUNC_BASE and (addr - FUNC_BASE) % 8 == 0:
            return (addr - FUNC_BASE) // 8
        return None
