"""A parser for LLVM's BPF assembly syntax, as llvm-mc accepts it and llvm-objdump prints it.

`parse_line` turns one instruction into an `Insn`, or into an `Unresolved` when its
operand is a symbol (a label, a kfunc, a map); `assemble` resolves labels and
leaves the other symbols to the loader, as libbpf resolves relocations.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from framework.isa import opcodes as op
from framework.isa.insn import Insn, UnknownOpcode
from framework.isa.insn import make as _unchecked_make
from framework.isa.llvm_syntax import ALU_SYMBOLS, JMP_SYMBOLS

MAX_REG = 10  # r10, the frame pointer; r11 (BPF_REG_AX) is the kernel's own
_NUM = r"[+-]?(?:0x[0-9a-fA-F]+|\d+)"
_REG = r"[rw](?:1[0-5]|[0-9])"  # r11-r15 are read to be refused by name (parse_line)
_SYM = r"[A-Za-z_.$][\w.$]*"
_SIZE = {"u8": op.B, "u16": op.H, "u32": op.W, "u64": op.DW}
_SSIZE = {"s8": op.B, "s16": op.H, "s32": op.W}
_ALU_BY_SYMBOL = {sym: code for code, sym in ALU_SYMBOLS.items()}
_JMP_BY_SYMBOL = {sym: code for code, sym in JMP_SYMBOLS.items()}
_ATOMIC_BY_NAME = {name: code for code, name in op.ATOMIC_OPS.items()}
_ADDR = rf"\((?P<base>{_REG})\s*(?P<sign>[+-])\s*(?P<off>{_NUM})\)"


def make(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0, imm_hi: int = 0) -> Insn:
    """`insn.make`, refusing operands that do not fit their field instead of wrapping them.

    llvm-mc refuses an off outside -32768..32767; an imm may be written signed or
    unsigned (`w1 = 0xffffffff` is `w1 = -1`), so -2**31..2**32-1.
    """
    if not -(1 << 15) <= off < (1 << 15):
        raise ValueError(f"offset {off} does not fit in 16 bits")
    for value in (imm, imm_hi):
        if not -(1 << 31) <= value < (1 << 32):
            raise ValueError(f"immediate {value} does not fit in 32 bits")
    return _unchecked_make(code, dst, src, off, imm, imm_hi)


class AsmError(ValueError):
    """Text that is not an instruction; the caller adds the file and line."""


@dataclass(frozen=True, slots=True)
class Unresolved:
    """An instruction whose operand names a symbol, resolved by `assemble` or the loader.

    `field` says which part the symbol fills: "jump" (off, or imm for gotol),
    "call" (imm of a call: a local function, else a kfunc or helper by name) or
    "ld_imm64" (a map or a global variable).
    """

    insn: Insn
    symbol: str
    field: str


def number(text: str) -> int:
    return int(text, 0) if not text.startswith(("+", "-")) else int(text[0] + str(int(text[1:], 0)))


def _reg(text: str) -> tuple[bool, int]:
    """(is 64-bit, register number)."""
    return text[0] == "r", int(text[1:])


def _addr(m: re.Match[str]) -> tuple[int, int]:
    off = number(m["off"])
    return _reg(m["base"])[1], -off if m["sign"] == "-" else off


def _target(text: str) -> int | str:
    return number(text) if re.fullmatch(_NUM, text) else text


_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"exit"), "exit"),
    (re.compile(rf"callx\s+(?P<dst>{_REG})"), "callx"),
    (re.compile(rf"call\s+(?P<target>{_NUM}|{_SYM})"), "call"),
    (re.compile(rf"(?P<name>goto|gotol|may_goto)\s+(?P<target>{_NUM}|{_SYM})"), "ja"),
    (
        re.compile(
            rf"if\s+(?P<dst>{_REG})\s*(?P<cmp>s?[<>]=?|==|!=|&)\s*(?P<src>{_REG}|{_NUM})\s+goto\s+(?P<target>{_NUM}|{_SYM})"
        ),
        "jcond",
    ),
    (re.compile(rf"(?P<dst>{_REG})\s*=\s*(?P<value>{_NUM}|{_SYM})\s+ll"), "ld_imm64"),
    (
        re.compile(
            rf"ld_pseudo\s+(?P<dst>{_REG})\s*,\s*(?P<src>{_NUM})\s*,\s*(?P<imm>{_NUM})(?:\s*,\s*(?P<hi>{_NUM}))?"
        ),
        "ld_pseudo",
    ),
    (
        re.compile(
            rf"r0\s*=\s*\*\((?P<size>u8|u16|u32) \*\)skb"
            rf"\[(?:(?P<src>{_REG})(?:\s*\+\s*(?P<imm2>{_NUM}))?|(?P<imm>{_NUM}))\]"
        ),
        "ld_pkt",
    ),
    (re.compile(rf"(?P<dst>{_REG})\s*=\s*\*\((?P<size>[us]\d+) \*\){_ADDR}"), "load"),
    (re.compile(rf"\*\((?P<size>u\d+) \*\){_ADDR}\s*=\s*(?P<src>{_REG}|{_NUM})"), "store"),
    (re.compile(rf"lock\s+\*\((?P<size>u\d+) \*\){_ADDR}\s*(?P<alu>[+&|^])=\s*(?P<src>{_REG})"), "atomic"),
    (
        re.compile(
            rf"(?P<dst>{_REG})\s*=\s*atomic_fetch_(?P<alu>add|and|or|xor)"
            rf"\(\((?P<size>u\d+) \*\){_ADDR},\s*(?P<src>{_REG})\)"
        ),
        "atomic_fetch",
    ),
    (
        re.compile(
            rf"(?P<dst>{_REG})\s*=\s*(?P<fn>xchg_64|xchg32_32)\((?P<base>{_REG})\s*(?P<sign>[+-])\s*(?P<off>{_NUM}),\s*(?P<src>{_REG})\)"
        ),
        "xchg",
    ),
    (
        re.compile(
            rf"(?P<dst>{_REG})\s*=\s*(?P<fn>cmpxchg_64|cmpxchg32_32)\((?P<base>{_REG})\s*(?P<sign>[+-])\s*(?P<off>{_NUM}),\s*(?P<old>{_REG}),\s*(?P<src>{_REG})\)"
        ),
        "cmpxchg",
    ),
    (re.compile(rf"(?P<dst>{_REG})\s*=\s*load_acquire\(\((?P<size>u\d+) \*\){_ADDR}\)"), "load_acquire"),
    (re.compile(rf"store_release\(\((?P<size>u\d+) \*\){_ADDR},\s*(?P<src>{_REG})\)"), "store_release"),
    (re.compile(rf"(?P<dst>{_REG})\s*=\s*-(?P<dst2>{_REG})"), "neg"),
    (re.compile(rf"(?P<dst>{_REG})\s*=\s*(?P<name>bswap|be|le)(?P<width>16|32|64)\s+(?P<dst2>{_REG})"), "end"),
    (re.compile(rf"(?P<dst>{_REG})\s*=\s*\((?P<sx>s8|s16|s32)\)(?P<src>{_REG})"), "movsx"),
    (
        re.compile(rf"(?P<dst>{_REG})\s*=\s*addr_space_cast\((?P<src>{_REG}),\s*(?P<das>{_NUM}),\s*(?P<sas>{_NUM})\)"),
        "addr_space_cast",
    ),
    (re.compile(rf"(?P<dst>{_REG})\s*(?P<alu>s/=|s%=|s>>=|<<=|>>=|[-+*/|&%^]?=)\s*(?P<src>{_REG}|{_NUM})"), "alu"),
]


def parse_line(text: str) -> Insn | Unresolved:
    """One instruction in LLVM syntax (no label, no comment)."""
    text = " ".join(text.split())
    for pattern, form in _PATTERNS:
        m = pattern.fullmatch(text)
        if m:
            try:
                item = _BUILDERS[form](m)
            except (UnknownOpcode, KeyError, ValueError) as exc:
                raise AsmError(f"invalid operands in '{text}': {exc}") from None
            insn = item.insn if isinstance(item, Unresolved) else item
            bad = next((r for r in insn.registers if r > MAX_REG), None)
            if bad is not None:
                raise AsmError(f"invalid register r{bad} in '{text}' (r0-r10 only)")
            return item
    raise AsmError(f"cannot parse '{text}'")


def _src_operand(text: str, wide: bool) -> tuple[int, int, int]:
    """(source flag, src register, imm) for a register-or-immediate operand."""
    if re.fullmatch(_REG, text):
        is64, reg = _reg(text)
        if is64 != wide:
            raise ValueError(f"register {text} does not match the operation width")
        return op.X, reg, 0
    return op.K, 0, number(text)


def _b_exit(m: re.Match[str]) -> Insn:
    return make(op.JMP | op.EXIT)


def _b_callx(m: re.Match[str]) -> Insn:
    return make(op.JMP | op.CALL | op.X, dst=_reg(m["dst"])[1])


def _b_call(m: re.Match[str]) -> Insn | Unresolved:
    target = _target(m["target"])
    if isinstance(target, str):
        return Unresolved(make(op.JMP | op.CALL, imm=-1), target, "call")
    return make(op.JMP | op.CALL, imm=target)


def _b_ja(m: re.Match[str]) -> Insn | Unresolved:
    code = {"goto": op.JMP | op.JA, "gotol": op.JMP32 | op.JA, "may_goto": op.JMP | op.JCOND}[m["name"]]
    target = _target(m["target"])
    if isinstance(target, str):
        return Unresolved(make(code), target, "jump")
    return make(code, imm=target) if m["name"] == "gotol" else make(code, off=target)


def _b_jcond(m: re.Match[str]) -> Insn | Unresolved:
    wide, dst = _reg(m["dst"])
    source, src, imm = _src_operand(m["src"], wide)
    code = (op.JMP if wide else op.JMP32) | _JMP_BY_SYMBOL[m["cmp"]] | source
    target = _target(m["target"])
    if isinstance(target, str):
        return Unresolved(make(code, dst, src, 0, imm), target, "jump")
    return make(code, dst, src, target, imm)


def _b_ld_imm64(m: re.Match[str]) -> Insn | Unresolved:
    wide, dst = _reg(m["dst"])
    if not wide:
        raise ValueError("ld_imm64 needs a 64-bit register")
    value = m["value"]
    if not re.fullmatch(_NUM, value):
        return Unresolved(make(op.LD | op.IMM | op.DW, dst), value, "ld_imm64")
    v = number(value)
    if not -(1 << 63) <= v < (1 << 64):
        raise ValueError(f"immediate {value} does not fit in 64 bits")
    v &= 0xFFFFFFFFFFFFFFFF
    return make(op.LD | op.IMM | op.DW, dst, imm=v & 0xFFFFFFFF, imm_hi=v >> 32)


def _b_ld_pseudo(m: re.Match[str]) -> Insn:
    hi = number(m["hi"]) if m["hi"] else 0
    return make(op.LD | op.IMM | op.DW, _reg(m["dst"])[1], number(m["src"]), imm=number(m["imm"]), imm_hi=hi)


def _b_ld_pkt(m: re.Match[str]) -> Insn:
    size = _SIZE[m["size"]]
    if m["src"]:
        return make(op.LD | op.IND | size, src=_reg(m["src"])[1], imm=number(m["imm2"] or "0"))
    return make(op.LD | op.ABS | size, imm=number(m["imm"]))


def _b_load(m: re.Match[str]) -> Insn:
    wide, dst = _reg(m["dst"])
    base, off = _addr(m)
    if m["size"] in _SSIZE:
        if not wide:
            raise ValueError("sign-extending loads write a 64-bit register")
        return make(op.LDX | op.MEMSX | _SSIZE[m["size"]], dst, base, off)
    size = _SIZE[m["size"]]
    if wide != (size == op.DW) and not (wide and size != op.DW):
        raise ValueError("a 64-bit load needs a 64-bit register")
    return make(op.LDX | op.MEM | size, dst, base, off)


def _b_store(m: re.Match[str]) -> Insn:
    size = _SIZE[m["size"]]
    base, off = _addr(m)
    if re.fullmatch(_REG, m["src"]):
        return make(op.STX | op.MEM | size, base, _reg(m["src"])[1], off)
    return make(op.ST | op.MEM | size, base, 0, off, number(m["src"]))


def _b_atomic(m: re.Match[str]) -> Insn:
    base, off = _addr(m)
    alu = _ALU_BY_SYMBOL[m["alu"] + "="]
    return make(op.STX | op.ATOMIC | _SIZE[m["size"]], base, _reg(m["src"])[1], off, alu)


def _b_atomic_fetch(m: re.Match[str]) -> Insn:
    base, off = _addr(m)
    if m["dst"][1:] != m["src"][1:]:
        raise ValueError("atomic_fetch writes back into its source register")
    imm = _ATOMIC_BY_NAME[m["alu"]] | op.FETCH
    return make(op.STX | op.ATOMIC | _SIZE[m["size"]], base, _reg(m["src"])[1], off, imm)


def _b_xchg(m: re.Match[str]) -> Insn:
    base, off = _addr(m)
    size = op.DW if m["fn"] == "xchg_64" else op.W
    return make(op.STX | op.ATOMIC | size, base, _reg(m["src"])[1], off, op.XCHG)


def _b_cmpxchg(m: re.Match[str]) -> Insn:
    base, off = _addr(m)
    if _reg(m["dst"])[1] != 0 or _reg(m["old"])[1] != 0:
        raise ValueError("cmpxchg compares and returns r0")
    size = op.DW if m["fn"] == "cmpxchg_64" else op.W
    return make(op.STX | op.ATOMIC | size, base, _reg(m["src"])[1], off, op.CMPXCHG)


def _b_load_acquire(m: re.Match[str]) -> Insn:
    base, off = _addr(m)
    return make(op.STX | op.ATOMIC | _SIZE[m["size"]], _reg(m["dst"])[1], base, off, op.LOAD_ACQ)


def _b_store_release(m: re.Match[str]) -> Insn:
    base, off = _addr(m)
    return make(op.STX | op.ATOMIC | _SIZE[m["size"]], base, _reg(m["src"])[1], off, op.STORE_REL)


def _b_neg(m: re.Match[str]) -> Insn:
    wide, dst = _reg(m["dst"])
    if m["dst"] != m["dst2"]:
        raise ValueError("neg works in place")
    return make((op.ALU64 if wide else op.ALU) | op.NEG, dst)


def _b_end(m: re.Match[str]) -> Insn:
    dst = _reg(m["dst"])[1]
    if m["dst"] != m["dst2"]:
        raise ValueError("byte swaps work in place")
    code = {"bswap": op.ALU64 | op.END, "le": op.ALU | op.END | op.TO_LE, "be": op.ALU | op.END | op.TO_BE}[m["name"]]
    return make(code, dst, imm=int(m["width"]))


def _b_movsx(m: re.Match[str]) -> Insn:
    wide, dst = _reg(m["dst"])
    swide, src = _reg(m["src"])
    if wide != swide:
        raise ValueError("movsx registers must have one width")
    return make((op.ALU64 if wide else op.ALU) | op.MOV | op.X, dst, src, int(m["sx"][1:]))


def _b_addr_space_cast(m: re.Match[str]) -> Insn:
    das, sas = number(m["das"]), number(m["sas"])
    if not (0 <= das <= 0xFFFF and 0 <= sas <= 0xFFFF):
        raise ValueError("address spaces are 16-bit")
    imm = (das << 16) | sas
    return make(op.ALU64 | op.MOV | op.X, _reg(m["dst"])[1], _reg(m["src"])[1], 1, imm)


def _b_alu(m: re.Match[str]) -> Insn:
    wide, dst = _reg(m["dst"])
    symbol = m["alu"]
    signed = symbol in ("s/=", "s%=")
    alu = _ALU_BY_SYMBOL[symbol[1:] if signed else symbol]
    source, src, imm = _src_operand(m["src"], wide)
    return make((op.ALU64 if wide else op.ALU) | alu | source, dst, src, 1 if signed else 0, imm)


_BUILDERS = {
    "exit": _b_exit,
    "callx": _b_callx,
    "call": _b_call,
    "ja": _b_ja,
    "jcond": _b_jcond,
    "ld_imm64": _b_ld_imm64,
    "ld_pseudo": _b_ld_pseudo,
    "ld_pkt": _b_ld_pkt,
    "load": _b_load,
    "store": _b_store,
    "atomic": _b_atomic,
    "atomic_fetch": _b_atomic_fetch,
    "xchg": _b_xchg,
    "cmpxchg": _b_cmpxchg,
    "load_acquire": _b_load_acquire,
    "store_release": _b_store_release,
    "neg": _b_neg,
    "end": _b_end,
    "movsx": _b_movsx,
    "addr_space_cast": _b_addr_space_cast,
    "alu": _b_alu,
}

_LABEL = re.compile(rf"\s*(?P<label>{_SYM})\s*:(?P<rest>.*)")


@dataclass(frozen=True, slots=True)
class SourceLine:
    """An instruction with the line it came from (1-based)."""

    line: int
    item: Insn | Unresolved


@dataclass(frozen=True, slots=True)
class Assembled:
    """Instructions in slot order, labels by pc, and symbols left for the loader."""

    slots: tuple[Insn | None, ...]
    labels: dict[str, int]
    lines: tuple[int, ...]  # source line of each slot
    relocations: tuple[tuple[int, str, str], ...]  # (pc, symbol, field) not resolved here


def strip_comment(text: str) -> str:
    for marker in ("#", "//"):
        at = text.find(marker)
        if at >= 0:
            text = text[:at]
    return text.strip()


def assemble(lines: Iterable[str], first_line: int = 1) -> Assembled:
    """Parse lines with labels; jumps and calls to labels are resolved.

    Raises AsmError with `.line` set to the offending line number.
    """
    items: list[SourceLine] = []
    labels: dict[str, int] = {}
    pc = 0
    for number_, raw in enumerate(lines, first_line):
        text = strip_comment(raw)
        while True:
            m = _LABEL.fullmatch(text)
            if not m:
                break
            if m["label"] in labels:
                raise _at(number_, f"label '{m['label']}' defined twice")
            labels[m["label"]] = pc
            text = m["rest"].strip()
        if not text or text.startswith("."):
            continue
        try:
            item = parse_line(text)
        except AsmError as exc:
            raise _at(number_, str(exc)) from None
        items.append(SourceLine(number_, item))
        pc += (item.insn if isinstance(item, Unresolved) else item).slots
    slots: list[Insn | None] = []
    line_of: list[int] = []
    relocations: list[tuple[int, str, str]] = []
    for entry in items:
        item = entry.item
        here = len(slots)
        if isinstance(item, Unresolved):
            insn = item.insn
            if item.field in ("jump", "call") and item.symbol in labels:
                delta = labels[item.symbol] - here - 1
                if item.field == "call":
                    insn = insn.replace(src=op.PSEUDO_CALL, imm=delta)
                elif insn.spec.name == "gotol":
                    insn = insn.replace(imm=delta)
                else:
                    if not -(1 << 15) <= delta < (1 << 15):
                        raise _at(entry.line, f"jump to '{item.symbol}' is out of range for a 16-bit offset")
                    insn = insn.replace(off=delta)
            elif item.field == "jump":
                raise _at(entry.line, f"unknown label '{item.symbol}'")
            else:
                relocations.append((here, item.symbol, item.field))
        else:
            insn = item
        slots.append(insn)
        line_of.append(entry.line)
        if insn.slots == 2:
            slots.append(None)
            line_of.append(entry.line)
    return Assembled(tuple(slots), labels, tuple(line_of), tuple(relocations))


def _at(line: int, message: str) -> AsmError:
    err = AsmError(message)
    err.line = line  # type: ignore[attr-defined]
    return err
