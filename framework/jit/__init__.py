"""BPF -> x86-64 after Linux 6.18's x86 JIT (arch/x86/net/bpf_jit_comp.c).

Checked byte for byte against the running kernel's JIT (tests/jit/test_against_kernel.py).
What differs from Linux, by design or not yet done:
- no CFI/IBT preamble (endbr, kCFI, FineIBT), no call-depth accounting, no
  retpolines; the return thunk (RETHUNK) is on by default, as on the live kernel;
- not tail-call reachable: the 3-byte nop is always emitted, no tail-call counter;
- BPF_TAIL_CALL, arena (addr_space_cast, PROBE_MEM32), PROBE_MEM, private stacks,
  BPF_NOSPEC and percpu moves are refused or absent (the ISA here lacks them);
- LD_ABS/LD_IND and may_goto must be rewritten before the JIT, as the kernel does;
  the fixup stage (`framework.fixup`) holds the kernel's rewrites;
- when do_jit would need jump padding (more than 20 passes) this JIT keeps
  iterating (up to 60 passes) instead;
- addresses live in the lower half (Unicorn has no paging), so an ld_imm64 of a
  function address is a 5-byte `mov r32` where the kernel's 0xffffffff... address
  takes a 7-byte sign-extended `mov`.
"""

from framework.jit.compile import CODE_BASE, RETURN_THUNK, SubprogSpec, default_stack_depth, jit
from framework.jit.image import FrameLayout, NativeImage
from framework.jit.lower import LOWER, JitError, Resolver

__all__ = [
    "CODE_BASE",
    "LOWER",
    "RETURN_THUNK",
    "FrameLayout",
    "JitError",
    "NativeImage",
    "Resolver",
    "SubprogSpec",
    "default_stack_depth",
    "jit",
]
