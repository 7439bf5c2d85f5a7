"""Valid instructions built from `SPECS`: fixed specimens per form, and hypothesis strategies.

"Valid" means what Linux accepts field by field: registers r0-r10, fields a form
does not use left zero, `off`/`imm` selectors as the Spec requires.
"""

from __future__ import annotations

from hypothesis import strategies as st

from framework.isa import opcodes as op
from framework.isa.insn import Insn, make
from framework.isa.opcodes import SPECS, Kind, Spec

REG = st.integers(0, 10)
S16 = st.integers(-(1 << 15), (1 << 15) - 1)
S32 = st.integers(-(1 << 31), (1 << 31) - 1)

# Forms whose LLVM text does not carry every field: LLVM prints every call as
# `call <imm>`, whatever its src (helper, BPF-to-BPF, kfunc).
LLVM_LOSSY = frozenset({"call"})
# Forms LLVM 19 cannot assemble or print (LLVM 21 syntax; objdump-19 prints
# `<unknown>`, or misreads DW load-acquire as `lock ... += r`).
LLVM21_ONLY = frozenset(s.name for s in SPECS if s.kind is Kind.ATOMIC and s.imm in (op.LOAD_ACQ, op.STORE_REL))


def _fields(spec: Spec, dst: int, src: int, off: int, imm: int, imm_hi: int = 0) -> Insn:
    """An instruction of `spec`, keeping only the fields the form uses."""
    k = spec.kind
    code = spec.code
    if k is Kind.ALU:
        if code & op.X:
            return make(code, dst, src, spec.off or 0, imm if spec.name == "alu64_addr_space_cast" else 0)
        return make(code, dst, 0, spec.off or 0, imm)
    if k is Kind.NEG:
        return make(code, dst)
    if k is Kind.END:
        return make(code, dst, imm=spec.imm or 0)
    if k is Kind.JA:
        return make(code, imm=imm) if spec.name == "gotol" else make(code, off=off)
    if k is Kind.JCOND:
        return make(code, dst, src, off) if code & op.X else make(code, dst, 0, off, imm)
    if k is Kind.MAY_GOTO:
        return make(code, off=off)
    if k is Kind.CALL:
        return make(code, src=src % 3, imm=imm)
    if k is Kind.CALLX:
        return make(code, dst)
    if k is Kind.EXIT:
        return make(code)
    if k is Kind.LD_IMM64:
        return make(code, dst, src % 7, imm=imm, imm_hi=imm_hi)
    if k is Kind.LD_PKT:
        return make(code, 0, src if code & 0xE0 == op.IND else 0, 0, imm)
    if k in (Kind.LOAD, Kind.STORE_REG):
        return make(code, dst, src, off)
    if k is Kind.STORE_IMM:
        return make(code, dst, 0, off, imm)
    if k is Kind.ATOMIC:
        return make(code, dst, src, off, spec.imm or 0)
    raise AssertionError(f"no specimen for {k}")


def specimens(spec: Spec) -> list[Insn]:
    """A few fixed instructions of one form: small, negative and extreme operands."""
    out = [
        _fields(spec, 1, 2, 4, 7),
        _fields(spec, 10, 9, -8, -1, -1),
        _fields(spec, 0, 10, 0x7FFF, 0x7FFFFFFF, 0x12345678),
        _fields(spec, 3, 0, -0x8000, -0x80000000, 0),
    ]
    if spec.kind is Kind.LD_PKT:
        out.append(_fields(spec, 0, 5, 0, 0))  # LD_IND as LLVM writes it, without imm
    if spec.kind is Kind.LD_IMM64:
        out += [make(spec.code, 2, src, imm=src * 3) for src in op.LD_IMM64_SOURCES]
    if spec.kind is Kind.CALL:
        out = [
            _fields(spec, 0, 0, 0, 1),
            _fields(spec, 0, 1, 0, 7),
            _fields(spec, 0, 2, 0, 0x7FFFFFFF),
            _fields(spec, 0, 1, 0, -1),
        ]
    unique: list[Insn] = []
    for insn in out:
        if insn not in unique:
            unique.append(insn)
    return unique


@st.composite
def _insn_of(draw: st.DrawFn, spec: Spec) -> Insn:
    return _fields(spec, draw(REG), draw(REG), draw(S16), draw(S32), draw(S32))


def insns_of(spec: Spec) -> st.SearchStrategy[Insn]:
    return _insn_of(spec)


def insns(specs: tuple[Spec, ...] = SPECS) -> st.SearchStrategy[Insn]:
    """Random valid instructions, every form equally likely."""
    return st.sampled_from(specs).flatmap(insns_of)


def table_specimen(spec: Spec) -> Insn:
    """The one instruction per form that `test_every_spec`'s golden table spells out."""
    if spec.kind is Kind.CALL:
        return make(spec.code, imm=1)
    if spec.kind is Kind.LD_IMM64:
        return make(spec.code, 1, imm=-3, imm_hi=1)
    if spec.name == "alu64_addr_space_cast":
        return make(spec.code, 1, 2, 1, 1)
    return _fields(spec, 1, 2, -8, -3)
