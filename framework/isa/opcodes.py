"""The BPF instruction set that Linux 6.18 accepts, declared once, as data.

Field values follow RFC 9669 and include/uapi/linux/bpf.h / bpf_common.h. Every
instruction the project knows is one `Spec` in `SPECS`; the decoder, the encoder,
the printers, the parsers and (later) the verifier, interpreter and JIT all key on
`Spec.kind`, so adding a kind means adding it here and to every consumer.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

# Instruction classes (bpf_common.h BPF_CLASS).
LD, LDX, ST, STX, ALU, JMP, JMP32, ALU64 = range(8)

# Source operand (BPF_SRC): immediate or register.
K, X = 0x00, 0x08

# Sizes (BPF_SIZE) and their byte widths.
W, H, B, DW = 0x00, 0x08, 0x10, 0x18
SIZE_BYTES = {B: 1, H: 2, W: 4, DW: 8}

# Modes (BPF_MODE).
IMM, ABS, IND, MEM, MEMSX, ATOMIC = 0x00, 0x20, 0x40, 0x60, 0x80, 0xC0

# ALU operations (BPF_OP).
ADD, SUB, MUL, DIV, OR, AND, LSH, RSH = 0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70
NEG, MOD, XOR, MOV, ARSH, END = 0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0

# Jump operations (BPF_OP).
JA, JEQ, JGT, JGE, JSET, JNE, JSGT, JSGE = 0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70
CALL, EXIT, JLT, JLE, JSLT, JSLE, JCOND = 0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0, 0xE0

# Atomic operations, in imm (uapi bpf.h BPF_FETCH, BPF_XCHG, BPF_CMPXCHG,
# BPF_LOAD_ACQ, BPF_STORE_REL).
FETCH = 0x01
XCHG = 0xE0 | FETCH
CMPXCHG = 0xF0 | FETCH
LOAD_ACQ = 0x100
STORE_REL = 0x110

# Byte-swap direction for BPF_END in class ALU (BPF_TO_LE / BPF_TO_BE).
TO_LE, TO_BE = K, X

# Pseudo sources of ld_imm64 (uapi bpf.h BPF_PSEUDO_*).
PSEUDO_MAP_FD = 1
PSEUDO_MAP_VALUE = 2
PSEUDO_BTF_ID = 3
PSEUDO_FUNC = 4
PSEUDO_MAP_IDX = 5
PSEUDO_MAP_IDX_VALUE = 6
LD_IMM64_SOURCES = {
    0: "imm64",
    PSEUDO_MAP_FD: "map_fd",
    PSEUDO_MAP_VALUE: "map_value",
    PSEUDO_BTF_ID: "btf_id",
    PSEUDO_FUNC: "func",
    PSEUDO_MAP_IDX: "map_idx",
    PSEUDO_MAP_IDX_VALUE: "map_idx_value",
}

# Sources of a call (uapi bpf.h BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL).
CALL_HELPER, PSEUDO_CALL, PSEUDO_KFUNC_CALL = 0, 1, 2


class Kind(enum.Enum):
    """The closed set of instruction kinds; each consumer has one method per kind."""

    ALU = "alu"  # binary ALU/ALU64 op, incl. mov, movsx, sdiv/smod, addr_space_cast
    NEG = "neg"  # unary negation
    END = "end"  # byte swap: le/be (ALU), bswap (ALU64)
    JA = "ja"  # goto (JMP, off) and gotol (JMP32, imm)
    JCOND = "jcond"  # conditional jump, JMP and JMP32
    MAY_GOTO = "may_goto"  # JMP|JCOND, the kernel's bounded-loop escape
    CALL = "call"  # helper, BPF-to-BPF or kfunc call
    CALLX = "callx"  # indirect call through a register (ISA suite only)
    EXIT = "exit"
    LD_IMM64 = "ld_imm64"  # two slots, with a pseudo source
    LD_PKT = "ld_pkt"  # legacy LD_ABS / LD_IND packet loads
    LOAD = "load"  # LDX MEM / MEMSX
    STORE_IMM = "store_imm"  # ST MEM
    STORE_REG = "store_reg"  # STX MEM
    ATOMIC = "atomic"  # STX ATOMIC, incl. load-acquire and store-release


@dataclass(frozen=True, slots=True)
class Spec:
    """One instruction form: an opcode byte plus the off/imm values that select it."""

    name: str  # stable identifier, e.g. "alu64_add_x", "atomic_dw_fetch_add"
    kind: Kind
    code: int
    off: int | None = None  # required value of off, where it selects the form
    imm: int | None = None  # required value of imm, where it selects the form

    @property
    def cls(self) -> int:
        return self.code & 0x07


@dataclass(frozen=True, slots=True)
class Operator:
    """One BPF_OP: its name in the instruction set's spelling (RFC 9669, lower case, as the
    conformance suite's assembly writes it) and the symbol the kernel's disassembler prints
    (bpf_alu_string / bpf_jmp_string in kernel/bpf/disasm.c), which llvm-objdump shares."""

    name: str
    symbol: str


# the binary ALU operators (BPF_NEG and BPF_END are kinds of their own)
ALU_OPERATORS = {
    ADD: Operator("add", "+="),
    SUB: Operator("sub", "-="),
    MUL: Operator("mul", "*="),
    DIV: Operator("div", "/="),
    OR: Operator("or", "|="),
    AND: Operator("and", "&="),
    LSH: Operator("lsh", "<<="),
    RSH: Operator("rsh", ">>="),
    MOD: Operator("mod", "%="),
    XOR: Operator("xor", "^="),
    MOV: Operator("mov", "="),
    ARSH: Operator("arsh", "s>>="),
}
SIGNED_ALU_SYMBOLS = {DIV: "s/=", MOD: "s%="}  # bpf_alu_sign_string: off 1 (sdiv, smod)
# the conditional jumps (BPF_JCOND, may_goto, has no symbol: disasm.c prints "(null)" for it)
JMP_OPERATORS = {
    JEQ: Operator("jeq", "=="),
    JGT: Operator("jgt", ">"),
    JGE: Operator("jge", ">="),
    JSET: Operator("jset", "&"),
    JNE: Operator("jne", "!="),
    JSGT: Operator("jsgt", "s>"),
    JSGE: Operator("jsge", "s>="),
    JLT: Operator("jlt", "<"),
    JLE: Operator("jle", "<="),
    JSLT: Operator("jslt", "s<"),
    JSLE: Operator("jsle", "s<="),
}
SIZE_SUFFIXES = {B: "b", H: "h", W: "w", DW: "dw"}  # the instruction set's size letters
SIZE_TYPES = {B: "u8", H: "u16", W: "u32", DW: "u64"}  # bpf_ldst_string
SIGNED_SIZE_TYPES = {B: "s8", H: "s16", W: "s32"}  # bpf_ldsx_string
ATOMIC_OPS = {ADD: "add", OR: "or", AND: "and", XOR: "xor"}


def _build() -> tuple[Spec, ...]:
    specs: list[Spec] = []
    for cls, cname in ((ALU, "alu32"), (ALU64, "alu64")):
        for op, operator in ALU_OPERATORS.items():
            oname = operator.name
            for src, sname in ((K, "k"), (X, "x")):
                code = cls | op | src
                specs.append(Spec(f"{cname}_{oname}_{sname}", Kind.ALU, code, off=0))
                if op in (DIV, MOD):  # signed division, off=1 (RFC 9669 4.1)
                    specs.append(Spec(f"{cname}_s{oname}_{sname}", Kind.ALU, code, off=1))
            if op == MOV:  # movsx, off = source width (RFC 9669 4.1)
                widths = (8, 16) if cls == ALU else (8, 16, 32)
                for width in widths:
                    specs.append(Spec(f"{cname}_movsx{width}_x", Kind.ALU, cls | MOV | X, off=width))
        specs.append(Spec(f"{cname}_neg", Kind.NEG, cls | NEG | K, off=0))
    # addr_space_cast: ALU64|MOV|X with off=1; imm = dst_as << 16 | src_as (kernel
    # accepts 1 and 1 << 16: check_alu_op "addr_space_cast insn can only convert between address space 1 and 0").
    specs.append(Spec("alu64_addr_space_cast", Kind.ALU, ALU64 | MOV | X, off=1))
    for width in (16, 32, 64):
        specs.append(Spec(f"le{width}", Kind.END, ALU | END | TO_LE, imm=width))
        specs.append(Spec(f"be{width}", Kind.END, ALU | END | TO_BE, imm=width))
        specs.append(Spec(f"bswap{width}", Kind.END, ALU64 | END | K, imm=width))
    specs.append(Spec("ja", Kind.JA, JMP | JA | K))
    specs.append(Spec("gotol", Kind.JA, JMP32 | JA | K))
    for cls, cname in ((JMP, "jmp"), (JMP32, "jmp32")):
        for op, operator in JMP_OPERATORS.items():
            oname = operator.name
            for src, sname in ((K, "k"), (X, "x")):
                specs.append(Spec(f"{cname}_{oname}_{sname}", Kind.JCOND, cls | op | src))
    specs.append(Spec("may_goto", Kind.MAY_GOTO, JMP | JCOND | K))
    specs.append(Spec("call", Kind.CALL, JMP | CALL | K))
    specs.append(Spec("callx", Kind.CALLX, JMP | CALL | X))
    specs.append(Spec("exit", Kind.EXIT, JMP | EXIT | K))
    specs.append(Spec("ld_imm64", Kind.LD_IMM64, LD | IMM | DW))
    for mode, mname in ((ABS, "abs"), (IND, "ind")):
        for size in (B, H, W):
            specs.append(Spec(f"ld_{mname}_{SIZE_SUFFIXES[size]}", Kind.LD_PKT, LD | mode | size))
    for size in (B, H, W, DW):
        sn = SIZE_SUFFIXES[size]
        specs.append(Spec(f"ldx_{sn}", Kind.LOAD, LDX | MEM | size))
        if size != DW:
            specs.append(Spec(f"ldxs_{sn}", Kind.LOAD, LDX | MEMSX | size))
        specs.append(Spec(f"st_{sn}", Kind.STORE_IMM, ST | MEM | size))
        specs.append(Spec(f"stx_{sn}", Kind.STORE_REG, STX | MEM | size))
    for size in (W, DW):
        sn = SIZE_SUFFIXES[size]
        for op, oname in ATOMIC_OPS.items():
            specs.append(Spec(f"atomic_{sn}_{oname}", Kind.ATOMIC, STX | ATOMIC | size, imm=op))
            specs.append(Spec(f"atomic_{sn}_fetch_{oname}", Kind.ATOMIC, STX | ATOMIC | size, imm=op | FETCH))
        specs.append(Spec(f"atomic_{sn}_xchg", Kind.ATOMIC, STX | ATOMIC | size, imm=XCHG))
        specs.append(Spec(f"atomic_{sn}_cmpxchg", Kind.ATOMIC, STX | ATOMIC | size, imm=CMPXCHG))
    for size in (B, H, W, DW):  # Linux 6.15: load-acquire / store-release, all sizes
        sn = SIZE_SUFFIXES[size]
        specs.append(Spec(f"load_acquire_{sn}", Kind.ATOMIC, STX | ATOMIC | size, imm=LOAD_ACQ))
        specs.append(Spec(f"store_release_{sn}", Kind.ATOMIC, STX | ATOMIC | size, imm=STORE_REL))
    return tuple(specs)


SPECS: tuple[Spec, ...] = _build()
SPECS_BY_NAME: dict[str, Spec] = {s.name: s for s in SPECS}


def _index() -> dict[int, tuple[Spec, ...]]:
    table: dict[int, list[Spec]] = {}
    for spec in SPECS:
        table.setdefault(spec.code, []).append(spec)
    return {code: tuple(v) for code, v in table.items()}


SPECS_BY_CODE: dict[int, tuple[Spec, ...]] = _index()


def lookup(code: int, off: int, imm: int) -> Spec | None:
    """The spec an instruction's opcode, off and imm select, or None if Linux has none."""
    for spec in SPECS_BY_CODE.get(code, ()):
        if spec.off is not None and spec.off != off:
            continue
        if spec.imm is not None and spec.imm != imm:
            continue
        return spec
    return None


def size_of(code: int) -> int:
    """Bytes accessed by a load, store or atomic of this opcode."""
    return SIZE_BYTES[code & 0x18]


def is_alu64(code: int) -> bool:
    return code & 0x07 == ALU64


def is_jmp32(code: int) -> bool:
    return code & 0x07 == JMP32
