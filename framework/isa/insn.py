"""One BPF instruction slot, and the decoded instruction built from one or two slots."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from framework.isa import opcodes
from framework.isa.opcodes import Kind, Spec

SLOT = 8  # bytes per instruction slot (struct bpf_insn)

_SLOT = struct.Struct("<BBhi")


def sign32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def sign16(value: int) -> int:
    value &= 0xFFFF
    return value - (1 << 16) if value & 0x8000 else value


@dataclass(frozen=True, slots=True)
class Insn:
    """A decoded instruction, exactly as `struct bpf_insn` holds it.

    `ld_imm64` occupies two slots; its second slot's imm is `imm_hi` and the raw
    fields of that second slot (which Linux requires to be zero) are kept in
    `hi_code`, `hi_regs` and `hi_off` so that bytes round-trip exactly.
    """

    code: int
    dst: int
    src: int
    off: int
    imm: int
    spec: Spec
    imm_hi: int = 0
    hi_code: int = 0
    hi_regs: int = 0
    hi_off: int = 0

    @property
    def kind(self) -> Kind:
        return self.spec.kind

    @property
    def slots(self) -> int:
        return 2 if self.spec.kind is Kind.LD_IMM64 else 1

    @property
    def imm64(self) -> int:
        """ld_imm64's 64-bit value, unsigned."""
        return (self.imm & 0xFFFFFFFF) | ((self.imm_hi & 0xFFFFFFFF) << 32)

    @property
    def alu64(self) -> bool:
        return opcodes.is_alu64(self.code)

    @property
    def jmp32(self) -> bool:
        return opcodes.is_jmp32(self.code)

    @property
    def op(self) -> int:
        return self.code & 0xF0

    @property
    def uses_reg_src(self) -> bool:
        return bool(self.code & opcodes.X)

    @property
    def size(self) -> int:
        return opcodes.size_of(self.code)

    @property
    def registers(self) -> tuple[int, ...]:
        """The registers the instruction names as operands (src before dst); fields that
        hold something else (a call's or ld_imm64's pseudo source, an immediate form's src) are left out."""
        k = self.kind
        if k in (Kind.NEG, Kind.END, Kind.LD_IMM64, Kind.STORE_IMM, Kind.CALLX):
            return (self.dst,)
        if k in (Kind.ALU, Kind.JCOND):
            return (self.src, self.dst) if self.uses_reg_src else (self.dst,)
        if k in (Kind.LOAD, Kind.STORE_REG, Kind.ATOMIC):
            return (self.src, self.dst)
        if k is Kind.LD_PKT and self.code & 0xE0 == opcodes.IND:
            return (self.src,)
        return ()

    def encode(self) -> bytes:
        first = _SLOT.pack(self.code, (self.src << 4) | self.dst, self.off, self.imm)
        if self.slots == 1:
            return first
        return first + _SLOT.pack(self.hi_code, self.hi_regs, self.hi_off, self.imm_hi)

    def jump_target(self, pc: int) -> int:
        """Absolute target pc of a jump or a BPF-to-BPF call at `pc`."""
        if self.spec.name == "gotol" or self.kind in (Kind.CALL, Kind.LD_IMM64):
            return pc + 1 + self.imm
        return pc + 1 + self.off

    def replace(self, **changes: int) -> Insn:
        """A copy with fields changed; the spec is looked up again."""
        fields = {
            "code": self.code,
            "dst": self.dst,
            "src": self.src,
            "off": self.off,
            "imm": self.imm,
            "imm_hi": self.imm_hi,
            "hi_code": self.hi_code,
            "hi_regs": self.hi_regs,
            "hi_off": self.hi_off,
        }
        fields.update(changes)
        return make(**fields)


class UnknownOpcode(ValueError):
    """An opcode (with its off/imm selector) that Linux does not define."""


def make(
    code: int,
    dst: int = 0,
    src: int = 0,
    off: int = 0,
    imm: int = 0,
    imm_hi: int = 0,
    hi_code: int = 0,
    hi_regs: int = 0,
    hi_off: int = 0,
) -> Insn:
    """Build an instruction from its fields, looking up its spec."""
    spec = opcodes.lookup(code, off, imm)
    if spec is None:
        raise UnknownOpcode(f"unknown opcode 0x{code:02x} (off={off}, imm={imm})")
    if not (0 <= dst < 16 and 0 <= src < 16):
        raise UnknownOpcode(f"register out of range (dst={dst}, src={src})")
    return Insn(code, dst, src, sign16(off), sign32(imm), spec, sign32(imm_hi), hi_code, hi_regs, sign16(hi_off))


# The instructions a strategy's rewrite inserts most, by their kernel macros (include/linux/filter.h).


def mov_imm(dst: int, imm: int) -> Insn:
    """BPF_MOV64_IMM(dst, imm)."""
    return make(opcodes.ALU64 | opcodes.MOV | opcodes.K, dst, 0, 0, imm & 0xFFFFFFFF)


def mov_reg(dst: int, src: int) -> Insn:
    """BPF_MOV64_REG(dst, src)."""
    return make(opcodes.ALU64 | opcodes.MOV | opcodes.X, dst, src)


def add_imm(dst: int, imm: int) -> Insn:
    """BPF_ALU64_IMM(BPF_ADD, dst, imm)."""
    return make(opcodes.ALU64 | opcodes.ADD | opcodes.K, dst, 0, 0, imm & 0xFFFFFFFF)


def load_dw(dst: int, src: int, off: int) -> Insn:
    """BPF_LDX_MEM(BPF_DW, dst, src, off)."""
    return make(opcodes.LDX | opcodes.MEM | opcodes.DW, dst, src, off)


def store_dw(dst: int, src: int, off: int) -> Insn:
    """BPF_STX_MEM(BPF_DW, dst, src, off)."""
    return make(opcodes.STX | opcodes.MEM | opcodes.DW, dst, src, off)


def call_kfunc(index: int) -> Insn:
    """A BPF_PSEUDO_KFUNC_CALL of the program's kfunc number `index`: imm is its index in
    Program.kfuncs, as this project's programs name their kfuncs."""
    return make(opcodes.JMP | opcodes.CALL, 0, opcodes.PSEUDO_KFUNC_CALL, 0, index)


def unpack_slot(data: bytes, at: int) -> tuple[int, int, int, int, int]:
    code, regs, off, imm = _SLOT.unpack_from(data, at)
    return code, regs & 0x0F, regs >> 4, off, imm
