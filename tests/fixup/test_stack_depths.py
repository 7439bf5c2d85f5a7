"""Frames after the fixup stage against the running kernel: the depth it gives each subprog
(`Fixed.stack_depths`, what the JIT sizes frames by) and the JIT's `sub rsp` in each function.

The programs are tests/verify/cases/loop_stack.toml's: bpf_loop inlined (optimize_bpf_loop's
three slots) and timed may_goto (do_misc_fixups' two), below frames of several sizes, in
main and in subprogs. The kernel's `stack depth` line is the frames after those rewrites;
its JIT emits `sub rsp, round_up(depth, 8)` per function.
"""

from __future__ import annotations

import pytest
from iced_x86 import Decoder, Formatter, FormatterSyntax
from jit.image_diff import kernel_return_thunk
from verify.cases_loader import NoCompiler, VerifierCase, load_cases

from framework.fixup import stock_fixup
from framework.jit import SubprogSpec, jit
from framework.machine import StubResolver
from framework.oracle.check import available
from framework.oracle.record import record

CASES = load_cases("loop_stack")

# What the instructions alone cannot tell (framework/isa/stack.py): a callee's store through a
# pointer into its caller's frame. The verifier knows (its depth is the kernel's); the fixup stage
# would need it from the verifier's record.
APART = {"may_goto_caller_frame_grown_by_callee"}

_INTEL = Formatter(FormatterSyntax.INTEL)


def _frames(code: bytes, lengths: tuple[int, ...]) -> tuple[int, ...]:
    """Per function, the immediate of its prologue's `sub rsp, imm32` (0 when there is none)."""
    out = []
    at = 0
    for length in lengths:
        size = 0
        for ins in Decoder(64, code[at : at + length]):
            text = _INTEL.format(ins)
            if text.startswith("sub rsp,"):
                size = int(text.split(",")[1].rstrip("h"), 16)
                break
        out.append(size)
        at += length
    return tuple(out)


@pytest.mark.kernel
@pytest.mark.parametrize(
    "case",
    [pytest.param(c, marks=pytest.mark.xfail(strict=True)) if c.name in APART else c for c in CASES],
    ids=[c.name for c in CASES],
)
def test_frames_as_the_kernel_has_them(case: VerifierCase) -> None:
    reason = available()
    if reason is not None:
        pytest.skip(reason)
    try:
        program = case.program()
    except NoCompiler as exc:
        pytest.skip(str(exc))
    rec = record(program)
    fixed = stock_fixup(program)
    assert fixed.stack_depths == rec.stack_depth
    subs = [SubprogSpec(s.name, s.start, s.end, s.is_exception_cb) for s in fixed.program.subprogs]
    image = jit(
        fixed.program.slots,
        subs,
        stack_depths=fixed.stack_depths,
        resolver=StubResolver(),
        return_thunk=kernel_return_thunk(rec.jited_image),
    )
    ours = _frames(image.code, tuple(f.end - f.entry for f in image.frames))
    assert ours == _frames(rec.jited_image, rec.jited_func_lens)
