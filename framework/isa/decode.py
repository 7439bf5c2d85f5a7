"""Bytes to instructions and back.

A program's code is a tuple of slots, indexed by pc as the kernel indexes
`prog->insnsi`: the second slot of an `ld_imm64` is `None`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from framework.isa.insn import SLOT, Insn, UnknownOpcode, make, unpack_slot
from framework.isa.opcodes import Kind

Slots = tuple[Insn | None, ...]

MAX_BPF_REG = 11  # uapi bpf.h __MAX_BPF_REG: r0-r10 (r11, BPF_REG_AX, is the kernel's own)


class DecodeError(ValueError):
    """Bytes that are not a BPF program; `offset` is the byte offset of the bad slot."""

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message


class Truncated(DecodeError):
    """An `ld_imm64` whose second slot is not there: the bytes end first."""


def decode(data: bytes) -> Slots:
    """Decode a whole code section; raises DecodeError on the first bad slot."""
    if len(data) % SLOT:
        raise DecodeError(len(data) - len(data) % SLOT, f"code size {len(data)} is not a multiple of {SLOT}")
    slots: list[Insn | None] = []
    at = 0
    while at < len(data):
        insn = decode_at(data, at)
        slots.append(insn)
        if insn.slots == 2:
            slots.append(None)
        at += insn.slots * SLOT
    return tuple(slots)


def decode_at(data: bytes, at: int, max_reg: int = MAX_BPF_REG) -> Insn:
    """The instruction at byte `at`, one slot or two; registers up to `max_reg` - 1 (Linux: r10)."""
    if at + SLOT > len(data):
        raise DecodeError(at, f"{len(data) - at} bytes left, an instruction is {SLOT}")
    code, dst, src, off, imm = unpack_slot(data, at)
    try:
        insn = make(code, dst, src, off, imm)
    except UnknownOpcode as exc:
        raise DecodeError(at, str(exc)) from None
    bad = next((r for r in insn.registers if r >= max_reg), None)
    if bad is not None:
        # kernel: check_reg_arg refuses it as the verifier reaches it ("R%d is invalid")
        raise DecodeError(at, f"insn {at // SLOT}: register r{bad} is invalid (r0-r{max_reg - 1} only)")
    if insn.kind is Kind.LD_IMM64:
        if at + 2 * SLOT > len(data):
            raise Truncated(at, "ld_imm64 is missing its second slot")
        hi_code, hi_dst, hi_src, hi_off, hi_imm = unpack_slot(data, at + SLOT)
        insn = make(code, dst, src, off, imm, hi_imm, hi_code, (hi_src << 4) | hi_dst, hi_off)
    return insn


def encode(slots: Sequence[Insn | None]) -> bytes:
    return b"".join(insn.encode() for insn in slots if insn is not None)


def iter_insns(slots: Sequence[Insn | None]) -> Iterator[tuple[int, Insn]]:
    """(pc, insn) for every instruction, skipping ld_imm64's second slots."""
    for pc, insn in enumerate(slots):
        if insn is not None:
            yield pc, insn
