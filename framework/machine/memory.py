"""The emulated machine's memory map and the trap-stub addresses the JIT calls.

Unicorn runs without paging, so addresses are lower-half (Linux's are
0xffffffff...); the layout keeps Linux's shape: code near the "kernel text"
holding the helpers (rel32 calls reach), data above 4 GiB (so pointers need
movabs, as kernel pointers do), a 16 KiB stack (THREAD_SIZE) over a guard page.
"""

from __future__ import annotations

from dataclasses import dataclass

from framework.isa import opcodes as op
from framework.isa.insn import Insn
from framework.jit.compile import CODE_BASE, RETURN_THUNK
from framework.jit.items import JitError

PAGE = 0x1000
__all__ = ["CODE_BASE", "RETURN_THUNK", "StubResolver"]

STUB_BASE = 0x0200_0000  # trap stubs: `int3; ret` per service
STUB_SLOT = 16
HELPER_STUBS = STUB_BASE  # helper id N at HELPER_STUBS + 16 * N (ids < 512)
KFUNC_STUBS = STUB_BASE + 0x2000  # kfunc index N (Program.kfuncs) at KFUNC_STUBS + 16 * N
CALLX_STUB = STUB_BASE + 0x4000  # `callx`: helper number in r11
RETURN_ADDRESS = STUB_BASE + 0x4800  # where the program returns to: emulation stops there
assert RETURN_THUNK == STUB_BASE + 0x4900  # `ret`, counted like the program's code
NESTED_RETURN = STUB_BASE + 0x4A00  # where a BPF callback run from a service returns to
RELEASE_STUBS = STUB_BASE + 0x4B00  # an unwinder's release of kind N (framework.kernel.kinds) at +16 * N
STUB_SIZE = 0x5000
MAX_HELPERS = 512
MAX_KFUNCS = 512

COUNTER = 0x0300_0000  # the instruction counter a counted image adds to (jit(counter=COUNTER))
RUNTIME_BASE = 0x0600_0000  # strategies' C runtimes (RX), counted like the program

STACK_SIZE = 0x4000  # THREAD_SIZE on x86-64
STACK_BASE = 0x0800_0000  # [STACK_BASE, STACK_BASE + STACK_SIZE); the page below is a guard
STACK_TOP = STACK_BASE + STACK_SIZE
ENTRY_RSP = STACK_TOP - 0x100  # rsp at the program's first instruction (holds the return address)

DATA_BASE = 0x1_0000_0000  # regions mapped with Machine.map_region
KERNEL_BASE = 0x1000_0000  # where framework.kernel's AddressSpace places its regions (mirrored)


def round_page(n: int) -> int:
    return (n + PAGE - 1) & ~(PAGE - 1)


def helper_stub(helper_id: int) -> int:
    return HELPER_STUBS + STUB_SLOT * helper_id


def kfunc_stub(index: int) -> int:
    return KFUNC_STUBS + STUB_SLOT * index


def release_stub(kind: int) -> int:
    return RELEASE_STUBS + STUB_SLOT * kind


@dataclass(frozen=True, slots=True)
class StubResolver:
    """The JIT's resolver for this memory map: calls go to trap stubs; ld_imm64
    pseudo values come from `imm64_values` (by pc) when given."""

    imm64_values: tuple[tuple[int, int], ...] = ()

    def __call__(self, pc: int, insn: Insn) -> int:
        if insn.spec.name == "callx":
            return CALLX_STUB
        if insn.spec.name == "call":
            if insn.src == op.CALL_HELPER and 0 <= insn.imm < MAX_HELPERS:
                return helper_stub(insn.imm)
            if insn.src == op.PSEUDO_KFUNC_CALL and 0 <= insn.imm < MAX_KFUNCS:
                return kfunc_stub(insn.imm)
            raise JitError(pc, f"no stub for call imm {insn.imm} (src {insn.src})")
        for at, value in self.imm64_values:
            if at == pc:
                return value
        raise JitError(pc, f"no value for ld_imm64 with pseudo source {insn.src}")
