"""The bpf_conformance suite: parsing its `%r` dialect, and running every case on the interpreter."""

from __future__ import annotations

from pathlib import Path

import pytest

from framework.errors import InputError
from framework.isa import opcodes as op
from framework.kernel.harness import ConformanceKernel
from framework.load.conformance import load_case, parse_case
from framework.run.conformance import run_conformance
from framework.run.interp import Interpreter

SUITE = Path(__file__).parents[2] / "../shared/conformance/bpf_conformance"
FILES = sorted(SUITE.glob("*.data")) if SUITE.is_dir() else []
needs_suite = pytest.mark.skipif(not FILES, reason=f"bpf_conformance suite not found at {SUITE}")


def _run(text: str) -> int:
    case = parse_case(text, "t.data")
    kernel = ConformanceKernel(case.mem)
    out = Interpreter(case.slots, kernel, conformance=True).run(kernel.args)
    assert out.fault is None, out.fault
    return out.r0


@needs_suite
def test_suite_has_313_cases() -> None:
    assert len(FILES) == 313


@needs_suite
@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_case_passes_on_interp(path: Path) -> None:
    case = load_case(path)
    kernel = ConformanceKernel(case.mem)
    out = Interpreter(case.slots, kernel, conformance=True).run(kernel.args)
    assert out.fault is None, out.fault
    assert out.r0 == case.expected


@needs_suite
def test_raw_section_matches_asm() -> None:
    text = (SUITE / "lddw.data").read_text()
    raw = parse_case(text, "lddw.data")
    asm = parse_case(text.split("-- raw")[0] + "-- result\n0x1122334455667788\n", "lddw.data")
    assert raw.slots == asm.slots


def test_numbers_follow_stoull() -> None:
    case = parse_case("-- asm\nmov32 %r0, -3\nstxdw [%r10-8], %r1\nlddw %r2, -1\nexit\n-- result\n0xfffffffd\n")
    mov, stx, lddw = case.slots[0], case.slots[1], case.slots[2]
    assert mov is not None and mov.imm == -3
    assert stx is not None and stx.off == -8 and stx.dst == 10 and stx.src == 1
    assert lddw is not None and lddw.imm64 == (1 << 64) - 1
    assert case.expected == 0xFFFFFFFD


def test_exit_label_is_the_first_exit() -> None:
    case = parse_case("-- asm\nja exit\nmov %r0, 1\nexit\nmov %r0, 2\nexit\n-- result\n0\n")
    ja = case.slots[0]
    assert ja is not None and ja.off == 1
    assert _run("-- asm\nja exit\nmov %r0, 1\nexit\nmov %r0, 2\nexit\n-- result\n0\n") == 0


def test_mnemonic_encodings() -> None:
    text = """-- asm
lock fetch add32 [%r10-4], %r3
lock cmpxchg [%r10-8], %r1
call %r2
call 5
call local f
ja32 f
movsx1632 %r4, %r3
ldxsh %r0, [%r10-2]
swap16 %r0
be32 %r0
sdiv32 %r0, -1
smod %r0, %r1
f:
exit
-- result
0
"""
    names = [i.spec.name for i in parse_case(text).slots if i is not None]
    assert names == [
        "atomic_w_fetch_add",
        "atomic_dw_cmpxchg",
        "callx",
        "call",
        "call",
        "gotol",
        "alu32_movsx16_x",
        "ldxs_h",
        "bswap16",
        "be32",
        "alu32_sdiv_k",
        "alu64_smod_x",
        "exit",
    ]
    slots = parse_case(text).slots
    local = slots[4]
    assert local is not None and local.src == op.PSEUDO_CALL and local.imm == 7


def test_mem_and_error_sections() -> None:
    case = parse_case("-- asm\nexit\n-- mem\n00 01\nff\n-- error\nsomething bad\n")
    assert case.mem == b"\x00\x01\xff"
    assert case.error == "something bad" and case.expected is None


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("-- asm\nmov %r0, 1\nfrob %r0\nexit\n-- result\n0\n", "x.data:3", "unknown mnemonic 'frob'"),
        ("-- asm\nja nowhere\nexit\n-- result\n0\n", "x.data:2", "unknown label 'nowhere'"),
        ("-- asm\nmov %r16, 1\nexit\n-- result\n0\n", "x.data:2", "invalid register"),
        ("-- asm\nle17 %r0\nexit\n-- result\n0\n", "x.data:2", "unknown opcode"),
        ("-- asm\nexit\n-- mem\nzz\n-- result\n0\n", "x.data:4", "bad memory byte"),
        ("-- asm\nexit\n-- bogus\n-- result\n0\n", "x.data:3", "unknown section"),
        ("-- asm\nexit\n", "x.data", "no '-- result'"),
    ],
)
def test_bad_text_is_input_error_with_line(text: str, where: str, what: str) -> None:
    with pytest.raises(InputError) as info:
        parse_case(text, "x.data")
    assert str(info.value).startswith(where + ":")
    assert what in str(info.value)


def test_callx_outside_conformance_faults() -> None:
    case = parse_case("-- asm\nmov %r2, 5\ncall %r2\nexit\n-- result\n0\n")
    kernel = ConformanceKernel(b"")
    out = Interpreter(case.slots, kernel).run(kernel.args)
    assert out.fault is not None and "callx" in out.fault and out.fault_pc == 1


@needs_suite
def test_run_conformance_reports_313_of_313() -> None:
    report = run_conformance([SUITE])
    assert (report.passed, report.failed) == (313, 0)
    data = report.to_json()
    assert list(data) == ["engine", "passed", "failed", "cases"] and data["engine"] == "interp"
    first = report.cases[0].to_json()
    assert list(first) == ["name", "ok", "expected", "got"]


def test_run_conformance_reports_a_wrong_result_and_a_fault(tmp_path: Path) -> None:
    (tmp_path / "wrong.data").write_text("-- asm\nmov %r0, 1\nexit\n-- result\n0x2\n")
    (tmp_path / "fault.data").write_text("-- asm\nldxdw %r0, [%r1+0]\nexit\n-- result\n0x0\n")
    (tmp_path / "error.data").write_text("-- asm\ncall 9\nexit\n-- error\nbad helper\n")
    report = run_conformance([tmp_path])
    by_name = {c.name: c for c in report.cases}
    assert (report.passed, report.failed) == (1, 2)
    assert by_name["wrong"].got == 1 and not by_name["wrong"].ok
    assert isinstance(by_name["fault"].got, str) and "pc 0" in by_name["fault"].got
    assert by_name["error"].ok and by_name["error"].expected == "bad helper"
