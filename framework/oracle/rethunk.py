"""Which return the host's kernel JITs: `ret`, or `jmp __x86_return_thunk`.

The x86 JIT's emit_return jumps to the return thunk when cpu_wants_rethunk() (the CPU's
retbleed or SRSO mitigation sets X86_FEATURE_RETHUNK), else emits `ret`: the choice follows
the machine, not the kernel build, so an image comparison reads it from the kernel's own code.
"""

from __future__ import annotations

from iced_x86 import Code, Decoder

__all__ = ["uses_return_thunk"]


def uses_return_thunk(jited: bytes) -> bool:
    """False when the kernel's image holds a `ret` (emit_return without RETHUNK); every
    function's epilogue ends in one return, so an image without `ret` jumps to the thunk."""
    return not any(ins.code == Code.RETNQ for ins in Decoder(64, jited))
