"""The decoder and the assembler on random input: bad input is a DecodeError or an InputError, nothing else.

Every InputError is one line of at most MAX_MESSAGE characters, and what the decoder accepts
encodes back to the same bytes.
"""

from __future__ import annotations

import struct
from pathlib import Path

from hypothesis import example, given
from hypothesis import strategies as st

from framework.errors import MAX_MESSAGE, InputError
from framework.isa.decode import DecodeError, decode, encode
from framework.isa.llvm_syntax import format_insn
from framework.isa.opcodes import SPECS

from .fuzzing import budget

ROOT = Path(__file__).resolve().parents[2]
EVERY_OPCODE = (ROOT / "programs" / "asm" / "every_opcode.s").read_text().splitlines()
HEADERS = [
    "# section: tc",
    "# section: xdp",
    "# type: sched_cls",
    "# map: name=m type=array key=4 value=8 max_entries=4",
    "# map: name=h type=hash key=4 value=8 max_entries=4",
    "# kfunc: bpf_throw",
    "# exception_cb: cb",
    "# global: cb",
]


def _slot(code: int, regs: int, off: int, imm: int) -> bytes:
    return struct.pack("<BBhi", code, regs, off, imm)


# slots near real ones: a known opcode with random registers, off and imm
_near = st.builds(
    _slot,
    st.sampled_from([s.code for s in SPECS]),
    st.integers(0, 255),
    st.one_of(st.sampled_from([0, 1, -1, 8, -8, 0x7FFF, -0x8000]), st.integers(-0x8000, 0x7FFF)),
    st.one_of(st.sampled_from([0, 1, -1, 0x100, 0x110, 0xE1, 0xF1, 16, 32, 64]), st.integers(-(2**31), 2**31 - 1)),
)
_code = st.lists(st.one_of(_near, st.binary(min_size=8, max_size=8)), max_size=24).map(b"".join)


@given(st.one_of(_code, st.binary(max_size=200)))
@example(_slot(0xB7, 0x0B, 0, 1))  # r11 = 1: refused by name, as check_reg_arg does
@example(_slot(0x18, 0x01, 0, 0))  # ld_imm64 without its second slot
@budget(300)
def test_decode_refuses_or_round_trips(data: bytes) -> None:
    try:
        slots = decode(data)
    except DecodeError as exc:
        assert 0 <= exc.offset <= len(data) and len(exc.message) <= MAX_MESSAGE
        return
    assert encode(slots) == data
    for insn in slots:
        if insn is not None:
            format_insn(insn)  # every decoded instruction prints


def _line() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(EVERY_OPCODE),
        st.sampled_from(HEADERS),
        st.text(max_size=40),
        st.sampled_from(["exit", "r0 = 0", "goto -1", "call bpf_throw", "cb:", "r1 = m ll", "call cb"]),
        st.text(alphabet="rw0123456789 =+-*/<>&|()[]#:.,xugoti fs", max_size=30),
    )


@given(st.lists(_line(), max_size=16), st.booleans())
@example(["# section: tc"], False)  # a header and no instruction
@example(["# section: tc", "r0 = " + "x" * 5000], False)  # an over-long line is quoted clipped
@example(["# section: tc", "# map: name=m type=array key=4 value=4294967296 max_entries=1", "r0 = 0", "exit"], False)
@budget(300)
def test_assembler_refuses_with_one_short_line(lines: list[str], header: bool) -> None:
    import tempfile

    text = "\n".join((["# section: tc"] if header else []) + lines) + "\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.s"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            from framework.load import load_path

            load_path(str(path))
        except InputError as exc:
            assert len(str(exc)) <= MAX_MESSAGE and "\n" not in str(exc), str(exc)[:400]
