"""Property tests of the decoder, encoder, printers and parser, on instructions built from SPECS."""

from __future__ import annotations

import struct

from hypothesis import assume, example, given
from hypothesis import strategies as st

from framework.isa import kernel_syntax, llvm_syntax
from framework.isa import opcodes as op
from framework.isa.decode import MAX_BPF_REG, DecodeError, decode, encode, iter_insns
from framework.isa.insn import SLOT, Insn, make
from framework.isa.llvm_asm import parse_line
from framework.isa.opcodes import Kind

from .specimens import LLVM_LOSSY, insns


@given(st.lists(insns(), max_size=40))
def test_bytes_decode_encode_identity(program: list[Insn]) -> None:
    data = b"".join(i.encode() for i in program)
    slots = decode(data)
    assert encode(slots) == data
    assert [insn for _, insn in iter_insns(slots)] == program
    assert len(slots) == len(data) // SLOT


@given(insns())
def test_llvm_text_parse_identity(insn: Insn) -> None:
    text = llvm_syntax.format_insn(insn)
    back = parse_line(text)
    if insn.spec.name in LLVM_LOSSY:
        assert back == insn.replace(src=0), text
    else:
        assert back == insn, text


@given(insns())
def test_llvm_text_is_one_line_and_reparses_to_same_text(insn: Insn) -> None:
    text = llvm_syntax.format_insn(insn)
    assert "\n" not in text
    back = parse_line(text)
    assert isinstance(back, Insn)
    assert llvm_syntax.format_insn(back) == text


@given(insns())
def test_kernel_text_shape(insn: Insn) -> None:
    text = kernel_syntax.format_insn(insn)
    assert text.startswith(f"({insn.code:02x}) ")
    assert "\n" not in text
    assert "BUG" not in text
    assert "None" not in text


_slot = st.binary(min_size=SLOT, max_size=SLOT)


def _names_a_bad_register(code: int, regs: int, off: int, imm: int) -> bool:
    """A known opcode naming a register above r10 in a field that holds one (only r0-r10 exist)."""
    return any(r >= MAX_BPF_REG for r in make(code, regs & 0xF, regs >> 4, off, imm).registers)


def _first_bad_slot(data: bytes) -> int | None:
    """Where decoding must stop, computed slot by slot from the spec table alone.

    A size that is not a multiple of 8 is reported first, at the torn slot.
    """
    if len(data) % SLOT:
        return len(data) - len(data) % SLOT
    at = 0
    while at + SLOT <= len(data):
        code, regs, off, imm = struct.unpack_from("<BBhi", data, at)
        spec = op.lookup(code, off, imm)
        if spec is None or _names_a_bad_register(code, regs, off, imm):
            return at
        if spec.kind is Kind.LD_IMM64:
            if at + 2 * SLOT > len(data):
                return at
            at += 2 * SLOT
        else:
            at += SLOT
    return None if at == len(data) else at


@given(st.lists(_slot, max_size=12).map(b"".join), st.binary(max_size=7))
@example(bytes([0x18, 0, 0, 0, 0, 0, 0, 0]), b"")  # ld_imm64 without its second slot
@example(bytes([0x07, 0, 0, 0, 0, 0, 0, 0]), b"\x95")  # a torn tail
@example(bytes([0x8D, 0x01, 0, 0, 0, 0, 0, 0, 0xFF, 0, 0, 0, 0, 0, 0, 0]), b"")  # callx, then junk
def test_random_slots_decode_or_fail_at_the_bad_slot(whole: bytes, tail: bytes) -> None:
    """Random bytes either decode (and re-encode exactly) or raise DecodeError at the first bad slot."""
    data = whole + tail
    bad = _first_bad_slot(data)
    try:
        slots = decode(data)
    except DecodeError as exc:
        assert exc.offset == bad, (exc.offset, bad, exc.message)
        assert exc.offset % SLOT == 0
        if not tail:  # a bad slot: everything before it decodes
            decode(data[: exc.offset])
        return
    assert bad is None
    assert encode(slots) == data
    for _, insn in iter_insns(slots):
        assert kernel_syntax.format_insn(insn).startswith(f"({insn.code:02x}) ")
        assert llvm_syntax.format_insn(insn)


@given(_slot)
@example(b"\x04\x0b\x00\x00\x00\x00\x00\x00")  # w11 += 0: no such register
@example(b"\x04\xb0\x00\x00\x00\x00\x00\x00")  # w0 += 0 with 11 in its unused src field: decodes
def test_single_random_slot(slot: bytes) -> None:
    """One slot: valid exactly when the spec table has its opcode, it names no register above r10,
    and it is not half an ld_imm64."""
    code, regs, off, imm = struct.unpack("<BBhi", slot)
    spec = op.lookup(code, off, imm)
    try:
        (insn,) = decode(slot)
    except DecodeError as exc:
        assert exc.offset == 0
        assert spec is None or spec.kind is Kind.LD_IMM64 or _names_a_bad_register(code, regs, off, imm)
        return
    assert insn is not None
    assert insn.spec == spec
    assert insn.encode() == slot


@given(insns())
def test_every_valid_insn_is_a_known_spec(insn: Insn) -> None:
    assume(insn.kind is not Kind.LD_IMM64)
    assert op.lookup(insn.code, insn.off, insn.imm) is insn.spec
