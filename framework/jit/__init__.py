"""BPF -> x86-64 after Linux's x86 JIT (arch/x86/net/bpf_jit_comp.c, 6.18)."""

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
