"""BPF -> x86-64 after Linux 6.18's x86 JIT (arch/x86/net/bpf_jit_comp.c).

Checked byte for byte against the running kernel's JIT (tests/jit/test_against_kernel.py).
What differs from Linux, by design or not yet done:
- no CFI/IBT preamble (endbr, kCFI, FineIBT), no call-depth accounting; the return
  thunk (RETHUNK) and the indirect-jump thunk (retpolines) are on by default, as on
  the live kernel;
- tail calls as do_jit emits them (emit_prologue_tail_call's counter slots, the counter
  pointer before a BPF-to-BPF call, emit_bpf_tail_call_direct/_indirect, poke sites
  left unpatched as a fresh load leaves them: `NativeImage.pokes` says where);
- arena (addr_space_cast, PROBE_MEM32), PROBE_MEM, private stacks,
  BPF_NOSPEC and percpu moves are refused or absent (the ISA here lacks them);
- LD_ABS/LD_IND and may_goto must be rewritten before the JIT, as the kernel does;
  the fixup stage (`framework.fixup`) holds the kernel's rewrites;
- when do_jit would need jump padding (more than 20 passes) this JIT keeps
  iterating (up to 60 passes) instead;
- addresses live in the lower half (Unicorn has no paging), so an ld_imm64 of a
  function address is a 5-byte `mov r32` where the kernel's 0xffffffff... address
  takes a 7-byte sign-extended `mov`.
"""

from framework.jit.compile import (
    CODE_BASE,
    INDIRECT_THUNK,
    RETURN_THUNK,
    SubprogSpec,
    default_stack_depth,
    jit,
    subprog_specs,
)
from framework.jit.image import FrameLayout, NativeImage, PokeSite
from framework.jit.items import JitError, Resolver
from framework.jit.lower import LOWER

__all__ = [
    "CODE_BASE",
    "INDIRECT_THUNK",
    "LOWER",
    "RETURN_THUNK",
    "FrameLayout",
    "JitError",
    "NativeImage",
    "PokeSite",
    "Resolver",
    "SubprogSpec",
    "default_stack_depth",
    "jit",
    "subprog_specs",
]
