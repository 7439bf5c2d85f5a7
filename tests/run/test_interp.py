"""The reference interpreter, instruction kind by kind, on hand-written programs.

Programs are LLVM-syntax text assembled by framework.isa.llvm_asm and run
without a verifier, on the conformance harness's kernel (no maps, no helpers
but 5) unless a test needs more.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from framework.isa import opcodes as op
from framework.isa.decode import Slots
from framework.isa.llvm_asm import assemble
from framework.isa.opcodes import SPECS, Kind
from framework.kernel.harness import ConformanceKernel
from framework.load.program import Linkage, Subprog
from framework.run.callstack import MAX_BPF_STACK
from framework.run.frames import Outcome, ThrowState
from framework.run.interp import BPF_MAX_LOOPS, HANDLERS, Interpreter

M64 = (1 << 64) - 1


def build(text: str, kfuncs: Sequence[str] = ()) -> tuple[Slots, dict[str, int]]:
    """Assemble; `call <kfunc>` becomes a kfunc call with imm = its index in `kfuncs`."""
    asm = assemble(text.strip().splitlines())
    slots = list(asm.slots)
    for pc, symbol, fld in asm.relocations:
        insn = slots[pc]
        assert insn is not None and fld == "call", (symbol, fld)
        slots[pc] = insn.replace(src=op.PSEUDO_KFUNC_CALL, imm=list(kfuncs).index(symbol))
    return tuple(slots), asm.labels


def run(
    text: str,
    mem: bytes = b"",
    kfuncs: Sequence[str] = (),
    subprogs: Sequence[Subprog] = (),
    **kw: object,
) -> Outcome:
    slots, _ = build(text, kfuncs)
    kernel = ConformanceKernel(mem)
    interp = Interpreter(slots, kernel, kfuncs=kfuncs, subprogs=subprogs, conformance=True, **kw)  # type: ignore[arg-type]
    return interp.run(kernel.args)


def r0(text: str, mem: bytes = b"") -> int:
    out = run(text, mem)
    assert out.fault is None, out.fault
    return out.r0


def test_every_kind_has_a_handler() -> None:
    assert set(HANDLERS) == set(Kind)
    kernel = ConformanceKernel(b"")
    interp = Interpreter((), kernel)
    for kind, name in HANDLERS.items():
        assert callable(getattr(interp, name)), kind
    assert {s.kind for s in SPECS} <= set(HANDLERS)


@pytest.mark.parametrize(
    ("body", "want"),
    [
        # do_misc_fixups: x / 0 = 0, x % 0 = x; 32-bit forms zero-extend
        ("r0 = 7\nr1 = 0\nr0 /= r1", 0),
        ("r0 = 7\nr1 = 0\nr0 %= r1", 7),
        ("r0 = -1\nr1 = 0\nw0 %= w1", 0xFFFFFFFF),
        ("r0 = -1\nr1 = 0\nw0 /= w1", 0),
        ("r0 = -7\nr1 = 0\nr0 s/= r1", 0),
        ("r0 = -7\nr1 = 0\nr0 s%= r1", (-7) & M64),
        # signed division truncates toward zero; INT_MIN / -1 wraps
        ("r0 = -7\nr0 s/= 2", (-3) & M64),
        ("r0 = -7\nr0 s%= 2", (-1) & M64),
        ("r0 = 7\nr0 s%= -2", 1),
        ("w0 = -2147483648\nw0 s/= -1", 0x80000000),
        ("w0 = -7\nw0 s%= 2", 0xFFFFFFFF),
        # shift amounts are masked as ___bpf_prog_run masks them
        ("r0 = 1\nr1 = 65\nr0 <<= r1", 2),
        ("w0 = 1\nw1 = 33\nw0 <<= w1", 2),
        ("r0 = -8\nr1 = 66\nr0 s>>= r1", (-2) & M64),
        ("w0 = -8\nw0 s>>= 1", 0xFFFFFFFC),
        # 32-bit ALU zero-extends; 64-bit imm is sign-extended
        ("r0 = -1\nw0 += 0", 0xFFFFFFFF),
        ("r0 = -1", M64),
        ("w0 = -1", 0xFFFFFFFF),
        ("r0 = 0\nr0 -= 1", M64),
        ("r0 = 5\nr0 = -r0", (-5) & M64),
        ("w0 = 5\nw0 = -w0", 0xFFFFFFFB),
        # movsx
        ("r1 = 0x80\nr0 = (s8)r1", (-128) & M64),
        ("r1 = 0x8000\nw0 = (s16)w1", 0xFFFF8000),
        ("r1 = 0xffffffff\nr0 = (s32)r1", M64),
        # byte swaps on a little-endian host
        ("r0 = 0x1122334455667788 ll\nr0 = be16 r0", 0x8877),
        ("r0 = 0x1122334455667788 ll\nr0 = le16 r0", 0x7788),
        ("r0 = 0x1122334455667788 ll\nr0 = le64 r0", 0x1122334455667788),
        ("r0 = 0x1122334455667788 ll\nr0 = bswap32 r0", 0x88776655),
        ("r0 = 0x1122334455667788 ll\nr0 = bswap64 r0", 0x8877665544332211),
    ],
)
def test_alu(body: str, want: int) -> None:
    assert r0(body + "\nexit") == want


@given(st.integers(0, M64), st.integers(0, M64))
def test_alu64_matches_python(a: int, b: int) -> None:
    text = f"r0 = {a} ll\nr1 = {b} ll\nr2 = r0\nr2 += r1\nr3 = r0\nr3 *= r1\nr4 = r0\nr4 ^= r1\n"
    text += (
        "*(u64 *)(r10 - 8) = r2\n*(u64 *)(r10 - 16) = r3\n*(u64 *)(r10 - 24) = r4\nr0 = r2\nr0 ^= r3\nr0 ^= r4\nexit"
    )
    assert r0(text) == ((a + b) & M64) ^ ((a * b) & M64) ^ (a ^ b)


@pytest.mark.parametrize(
    ("cmp", "a", "b", "taken"),
    [
        ("<", -1, 1, False),  # unsigned
        ("s<", -1, 1, True),
        (">=", 5, 5, True),
        ("s>", 0, -1, True),
        ("&", 6, 1, False),
        ("!=", 1, 2, True),
    ],
)
def test_jumps(cmp: str, a: int, b: int, taken: bool) -> None:
    text = f"r1 = {a}\nr2 = {b}\nr0 = 1\nif r1 {cmp} r2 goto out\nr0 = 0\nout:\nexit"
    assert r0(text) == int(taken)
    text32 = f"r1 = {a}\nr2 = {b}\nr0 = 1\nif w1 {cmp} w2 goto out\nr0 = 0\nout:\nexit"
    assert r0(text32) == int(taken)


def test_jmp32_compares_low_halves() -> None:
    assert r0("r1 = 0x100000001 ll\nr0 = 1\nif w1 == 1 goto out\nr0 = 0\nout:\nexit") == 1
    assert r0("r1 = 0x100000001 ll\nr0 = 1\nif r1 == 1 goto out\nr0 = 0\nout:\nexit") == 0


def test_gotol() -> None:
    assert r0("r0 = 1\ngotol out\nr0 = 2\nout:\nexit") == 1


def test_loads_and_stores_sign_extension() -> None:
    text = "r1 = -2\n*(u16 *)(r10 - 2) = r1\nr0 = *(s16 *)(r10 - 2)\nr2 = *(u16 *)(r10 - 2)\nr0 += r2\nexit"
    assert r0(text) == ((-2) + 0xFFFE) & M64
    assert r0("*(u32 *)(r10 - 4) = -1\nr0 = *(u32 *)(r10 - 4)\nexit") == 0xFFFFFFFF
    assert r0("*(u64 *)(r10 - 8) = -1\nr0 = *(u64 *)(r10 - 8)\nexit") == M64


def test_atomics() -> None:
    base = "r1 = 10\n*(u64 *)(r10 - 8) = r1\nr2 = 3\n"
    assert (
        r0(base + "r2 = atomic_fetch_add((u64 *)(r10 - 8), r2)\nr0 = *(u64 *)(r10 - 8)\nr0 <<= 8\nr0 |= r2\nexit")
        == (13 << 8) | 10
    )
    assert r0(base + "r2 = xchg_64(r10 - 8, r2)\nr0 = *(u64 *)(r10 - 8)\nr0 <<= 8\nr0 |= r2\nexit") == (3 << 8) | 10
    cmpxchg = "r0 = 10\nr0 = cmpxchg_64(r10 - 8, r0, r2)\nr3 = *(u64 *)(r10 - 8)\nr0 <<= 8\nr0 |= r3\nexit"
    assert r0(base + cmpxchg) == (10 << 8) | 3
    acq = "r0 = load_acquire((u64 *)(r10 - 8))\nexit"
    assert r0(base + acq) == 10
    rel = "store_release((u32 *)(r10 - 8), r2)\nr0 = *(u64 *)(r10 - 8)\nexit"
    assert r0(base + rel) == 3


def test_may_goto_refills_past_its_first_0xffff_iterations() -> None:
    # the timed form x86-64 runs (do_misc_fixups): a count of 0xffff per refill, refilled by
    # arch_bpf_timed_may_goto until a quarter second of the emulated clock has passed; the
    # endless loop of tests/fixup runs 129 * 0xffff times on both engines
    text = "r0 = 0\nloop:\nmay_goto out\nr0 += 1\nif r0 < 70000 goto loop\nout:\nexit"
    out = run(text)
    assert out.r0 == 70000 and out.fault is None and not out.timed_out
    assert BPF_MAX_LOOPS == 8 * 1024 * 1024


def test_a_run_past_its_instruction_limit_is_a_timeout_not_a_result() -> None:
    out = run("r0 = 0\nloop:\nr0 += 1\ngoto loop\nexit", max_insns=1000)
    assert out.timed_out and out.fault is not None and "instruction limit of 1000" in out.fault


def test_bpf_to_bpf_call_preserves_r6_r9_and_gives_each_frame_its_stack() -> None:
    text = """
r6 = 6
r9 = 9
*(u64 *)(r10 - 8) = r6
r1 = r10
call f
r0 += r6
r0 += r9
r2 = *(u64 *)(r10 - 8)
r0 += r2
exit
f:
r6 = 100
r9 = 100
*(u64 *)(r10 - 16) = r6
r0 = *(u64 *)(r1 - 8)
r0 += 1000
exit
"""
    out = run(text)
    assert out.fault is None
    assert out.r0 == 6 + 1000 + 6 + 9 + 6
    assert out.stack_high_water == 8 + 16


def test_call_depth_limit() -> None:
    out = run("call f\nexit\nf:\ncall f\nexit")
    assert out.fault is not None and "too deep" in out.fault


def test_fault_reports_pc_and_reason() -> None:
    out = run("r0 = 0\nr1 = 0\nr0 = *(u64 *)(r1 + 8)\nexit")
    assert out.fault == "pc 2: read of 8 bytes at 0x8: NULL pointer dereference" and out.fault_pc == 2
    out = run(f"r0 = *(u64 *)(r10 - {MAX_BPF_STACK + 8})\nexit")
    assert out.fault is not None and out.fault.startswith("pc 0:")
    out = run("*(u64 *)(r10 + 0) = r1\nexit")
    assert out.fault is not None and "write of 8 bytes" in out.fault and "past the end of stack of frame 0" in out.fault


def test_conformance_memory_in_r1_and_length_in_r2() -> None:
    assert r0("r0 = *(u8 *)(r1 + 2)\nr0 <<= 8\nr0 |= r2\nexit", b"\x01\x02\x03") == (3 << 8) | 3
    out = run("r0 = *(u8 *)(r1 + 3)\nexit", b"\x01\x02\x03")
    assert out.fault is not None and "runs past the end of conformance memory" in out.fault


def test_counts_instructions() -> None:
    assert run("r0 = 0\nr0 += 1\nexit").insns == 3
    assert run("r0 = 1 ll\nexit").insns == 2  # ld_imm64 is one instruction


SUBPROGS = (
    Subprog("main", 0, 6, Linkage.GLOBAL),
    Subprog("inner", 6, 10, Linkage.STATIC),
)


def test_throw_without_callback_returns_the_cookie() -> None:
    text = "r6 = 1\ncall inner\nr0 = 0\nexit\nr0 = 0\nexit\ninner:\nr1 = 0x123456789 ll\ncall bpf_throw\nexit"
    out = run(text, kfuncs=("bpf_throw",), subprogs=SUBPROGS)
    assert out.fault is None and out.threw
    assert out.cookie == 0x123456789 and out.r0 == 0x123456789


def test_throw_runs_the_exception_callback_on_the_main_frame() -> None:
    text = """
r1 = 7
call inner
r0 = 0
exit
cb:
r0 = r1
r0 *= 3
exit
inner:
*(u64 *)(r10 - 64) = r1
r1 = 5
call bpf_throw
exit
"""
    subprogs = (
        Subprog("main", 0, 4, Linkage.GLOBAL),
        Subprog("cb", 4, 7, Linkage.GLOBAL, is_exception_cb=True),
        Subprog("inner", 7, 11, Linkage.STATIC),
    )
    seen: list[ThrowState] = []
    out = run(text, kfuncs=("bpf_throw",), subprogs=subprogs, unwinder=lambda state, kernel, engine: seen.append(state))
    assert out.fault is None and out.threw and out.cookie == 5 and out.r0 == 15
    assert out.stack_high_water == 64
    (state,) = seen
    assert state.pc == 9 and state.cookie == 5
    assert [f.subprog for f in state.frames] == ["main", "inner"]
    assert state.frames[0].pc == 1  # main's call site
    assert state.frames[0].fp != state.frames[1].fp


def test_throw_from_the_callback_faults() -> None:
    text = "r1 = 1\ncall bpf_throw\nexit\ncb:\ncall bpf_throw\nexit"
    subprogs = (Subprog("main", 0, 3, Linkage.GLOBAL), Subprog("cb", 3, 5, Linkage.GLOBAL, is_exception_cb=True))
    out = run(text, kfuncs=("bpf_throw",), subprogs=subprogs)
    assert out.fault is not None and "exception callback" in out.fault


def test_callx_calls_the_helper_in_the_register() -> None:
    out = run("r1 = 42\nr2 = 5\ncallx r2\nexit")
    assert out.fault is None and out.r0 == 42
    out = run("r2 = 6\ncallx r2\nexit")
    assert out.fault is not None and "helper 6" in out.fault


def test_jump_out_of_program_faults() -> None:
    out = run("goto +5\nexit")
    assert out.fault is not None and "out of the program" in out.fault


def test_instruction_limit() -> None:
    out = run("loop:\ngoto loop", max_insns=1000)
    assert out.fault is not None and "instruction limit" in out.fault and out.insns == 1001


def test_branch_overrides_force_a_jump() -> None:
    text = "r0 = 1\nif r0 == 1 goto out\nr0 = 2\nout:\nexit"
    assert run(text).r0 == 1
    assert run(text, branch_overrides={1: False}).r0 == 2
    assert run("r0 = 1\nif r0 == 2 goto out\nr0 = 2\nout:\nexit", branch_overrides={1: True}).r0 == 1
