"""The verifier log's instruction text: Linux 6.18's `print_bpf_insn` (kernel/bpf/disasm.c).

`format_insn` returns one line without the newline, e.g. `(61) r1 = *(u32 *)(r1 +0)`.
The two callbacks play the part of `struct bpf_insn_cbs`: `call_name` is `cb_call`
(the verifier passes `disasm_kfunc_name`, which names a kfunc from BTF), `imm64` is
`cb_imm` (the verifier passes none, so `ld_imm64` prints its value in hex; a
privileged loader's log shows the resolved map address there, which only the caller
knows). A callback returning None falls back to the kernel's default text.

One `_fmt_<kind>` per instruction kind, as in `framework.isa.llvm_syntax`.
"""

from __future__ import annotations

from collections.abc import Callable

from framework.isa import opcodes as op
from framework.isa.insn import Insn
from framework.isa.opcodes import Kind
from framework.platform.helpers import helper_name

__all__ = ["NameHook", "format_insn"]

NameHook = Callable[[Insn], str | None]

# bpf_alu_string, bpf_alu_sign_string, bpf_jmp_string, bpf_ldst_string, bpf_ldsx_string
# (kernel/bpf/disasm.c): the operator table's symbols
_ALU = {code: o.symbol for code, o in op.ALU_OPERATORS.items()}
_ALU_SIGNED = op.SIGNED_ALU_SYMBOLS
_MOVSX = {8: "(s8)", 16: "(s16)", 32: "(s32)"}  # bpf_movsx_string
_JMP = {code: o.symbol for code, o in op.JMP_OPERATORS.items()}  # JCOND has none: glibc prints "(null)"
_LDST = op.SIZE_TYPES
_LDSX = op.SIGNED_SIZE_TYPES
ADDR_SPACE_CAST = 1  # uapi BPF_ADDR_SPACE_CAST, in off
MAY_GOTO = 0  # uapi BPF_MAY_GOTO, in src_reg


def _wr(insn: Insn) -> str:
    """'w' for the 32-bit classes (ALU, JMP32), else 'r'."""
    return "w" if insn.code & 0x07 in (op.ALU, op.JMP32) else "r"


def _size(insn: Insn) -> str:
    return _LDST[insn.code & 0x18]


def _mem(base: int, off: int) -> str:
    return f"(r{base} {off:+d})"


def _fmt_alu(insn: Insn) -> str:
    w = _wr(insn)
    if insn.code == op.ALU64 | op.MOV | op.X and insn.off == ADDR_SPACE_CAST:
        imm = insn.imm & 0xFFFFFFFF
        return f"r{insn.dst} = addr_space_cast(r{insn.src}, {imm >> 16}, {imm & 0xFFFF})"
    symbol = _ALU_SIGNED[insn.op] if insn.op in _ALU_SIGNED and insn.off == 1 else _ALU[insn.op]
    if insn.uses_reg_src:
        movsx = _MOVSX.get(insn.off, "") if insn.op == op.MOV else ""
        return f"{w}{insn.dst} {symbol} {movsx}{w}{insn.src}"
    return f"{w}{insn.dst} {symbol} {insn.imm}"


def _fmt_neg(insn: Insn) -> str:
    w = _wr(insn)
    return f"{w}{insn.dst} = -{w}{insn.dst}"


def _fmt_end(insn: Insn) -> str:
    if insn.alu64:  # print_bpf_bswap_insn
        return f"r{insn.dst} = bswap{insn.imm} r{insn.dst}"
    name = "be" if insn.code & op.X == op.TO_BE else "le"  # print_bpf_end_insn
    return f"r{insn.dst} = {name}{insn.imm} r{insn.dst}"


def _fmt_ja(insn: Insn) -> str:
    if insn.jmp32:
        return f"gotol pc{insn.imm:+d}"
    return f"goto pc{insn.off:+d}"


def _fmt_jcond(insn: Insn) -> str:
    w = _wr(insn)
    symbol = _JMP.get(insn.op, "(null)")
    if insn.uses_reg_src:
        return f"if {w}{insn.dst} {symbol} {w}{insn.src} goto pc{insn.off:+d}"
    return f"if {w}{insn.dst} {symbol} 0x{insn.imm & 0xFFFFFFFF:x} goto pc{insn.off:+d}"


def _fmt_may_goto(insn: Insn) -> str:
    if insn.src != MAY_GOTO:  # the kernel prints any other JCOND as a conditional jump
        return _fmt_jcond(insn)
    return f"may_goto pc{insn.off:+d}"


def _call_target(insn: Insn, call_name: NameHook | None) -> str | None:
    # kernel: __func_get_name
    if insn.src == 0:
        name = helper_name(insn.imm)
        if name is not None:
            return name
    if call_name is not None:
        name = call_name(insn)
        if name is not None:
            return name
    if insn.src == op.PSEUDO_CALL:
        return f"{insn.imm:+d}"
    if insn.src == op.PSEUDO_KFUNC_CALL:
        return "kernel-function"
    return None


def _fmt_call(insn: Insn, call_name: NameHook | None) -> str:
    name = _call_target(insn, call_name)
    if insn.src == op.PSEUDO_CALL:
        return f"call pc{name}"
    return f"call {name or 'unknown'}#{insn.imm}"


def _fmt_callx(insn: Insn) -> str:
    # Linux has no callx: print_bpf_insn would send 0x8d through its call branch and
    # the verifier rejects the opcode. The project prints what the ISA suite means.
    return f"callx r{insn.dst}"


def _fmt_exit(insn: Insn) -> str:
    return "exit"


def _fmt_ld_imm64(insn: Insn, imm64: NameHook | None) -> str:
    # kernel: __func_imm_name; the verifier passes no cb_imm, and a privileged log
    # (allow_ptr_leaks) keeps map addresses.
    text = imm64(insn) if imm64 is not None else None
    return f"r{insn.dst} = {text if text is not None else f'0x{insn.imm64:x}'}"


def _fmt_ld_pkt(insn: Insn) -> str:
    if insn.code & 0xE0 == op.ABS:
        return f"r0 = *({_size(insn)} *)skb[{insn.imm}]"
    return f"r0 = *({_size(insn)} *)skb[r{insn.src} + {insn.imm}]"


def _fmt_load(insn: Insn) -> str:
    size = insn.code & 0x18
    ty = _LDSX[size] if insn.code & 0xE0 == op.MEMSX else _LDST[size]
    return f"r{insn.dst} = *({ty} *){_mem(insn.src, insn.off)}"


def _fmt_store_imm(insn: Insn) -> str:
    return f"*({_size(insn)} *){_mem(insn.dst, insn.off)} = {insn.imm}"


def _fmt_store_reg(insn: Insn) -> str:
    return f"*({_size(insn)} *){_mem(insn.dst, insn.off)} = r{insn.src}"


def _fmt_atomic(insn: Insn) -> str:
    ty = _size(insn)
    addr = _mem(insn.dst, insn.off)
    bits = "64" if insn.code & 0x18 == op.DW else ""
    imm = insn.imm
    if imm in op.ATOMIC_OPS:
        return f"lock *({ty} *){addr} {_ALU[imm]} r{insn.src}"
    if imm & ~op.FETCH in op.ATOMIC_OPS and imm & op.FETCH:
        name = op.ATOMIC_OPS[imm & ~op.FETCH]
        return f"r{insn.src} = atomic{bits}_fetch_{name}(({ty} *){addr}, r{insn.src})"
    if imm == op.CMPXCHG:
        return f"r0 = atomic{bits}_cmpxchg(({ty} *){addr}, r0, r{insn.src})"
    if imm == op.XCHG:
        return f"r{insn.src} = atomic{bits}_xchg(({ty} *){addr}, r{insn.src})"
    if imm == op.LOAD_ACQ:
        return f"r{insn.dst} = load_acquire(({ty} *){_mem(insn.src, insn.off)})"
    if imm == op.STORE_REL:
        return f"store_release(({ty} *){addr}, r{insn.src})"
    return f"BUG_{insn.code:02x}"


_PLAIN: dict[Kind, Callable[[Insn], str]] = {
    Kind.ALU: _fmt_alu,
    Kind.NEG: _fmt_neg,
    Kind.END: _fmt_end,
    Kind.JA: _fmt_ja,
    Kind.JCOND: _fmt_jcond,
    Kind.MAY_GOTO: _fmt_may_goto,
    Kind.CALLX: _fmt_callx,
    Kind.EXIT: _fmt_exit,
    Kind.LD_PKT: _fmt_ld_pkt,
    Kind.LOAD: _fmt_load,
    Kind.STORE_IMM: _fmt_store_imm,
    Kind.STORE_REG: _fmt_store_reg,
    Kind.ATOMIC: _fmt_atomic,
}


def format_insn(
    insn: Insn,
    *,
    call_name: NameHook | None = None,
    imm64: NameHook | None = None,
) -> str:
    """The instruction as the verifier log prints it: `(<code>) <text>`, no newline.

    `call_name(insn)` names a call the helper table does not (a kfunc, as the
    verifier's `disasm_kfunc_name` does, or a BPF-to-BPF call); `imm64(insn)` gives
    the text after `rN = ` of an `ld_imm64`. Either may return None for the default.
    """
    if insn.kind is Kind.CALL:
        body = _fmt_call(insn, call_name)
    elif insn.kind is Kind.LD_IMM64:
        body = _fmt_ld_imm64(insn, imm64)
    else:
        body = _PLAIN[insn.kind](insn)
    return f"({insn.code:02x}) {body}"
