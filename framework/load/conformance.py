"""bpf_conformance `.data` files: the `%r` assembly dialect, memory, expected result.

A file is a list of sections opened by `-- <name>` lines: `asm` (the program),
`raw` (the program as 64-bit little-endian slot words; replaces `asm`), `mem`
(hex bytes handed to the program in r1, their count in r2), `result` (r0 at exit),
`error` (the expected load error), and `c` / `no register offset` (ignored text).
This follows the suite's own parser (bpf_conformance src/bpf_test_parser.cc) and
assembler (src/bpf_assembler.cc): numbers are read as C's `stoull` reads them
(hex when the text holds `0x`, a leading minus wraps), offsets keep their low 16
bits, immediates their low 32; a jump target is `+N`/`-N` or a label, and the label
`exit` names the first `exit` instruction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from framework.errors import Coord, InputError
from framework.isa import opcodes as op
from framework.isa.decode import DecodeError, Slots, decode
from framework.isa.insn import Insn, UnknownOpcode, make
from framework.isa.opcodes import Kind

__all__ = ["CaseResult", "ConformanceCase", "ConformanceReport", "assemble", "load_case", "parse_case"]


@dataclass(frozen=True, slots=True)
class ConformanceCase:
    """One test: its program, the memory given to it, and what it must return or fail with."""

    name: str
    slots: Slots
    mem: bytes
    expected: int | None  # r0 at exit, as a 64-bit unsigned value; None when `error` is set
    error: str | None
    path: str = ""


_REGS = {f"%r{i}": i for i in range(16)}  # r11-r15 exist in the dialect for negative tests
# the operator table's names, and the dialect's own for signed division and negation
_ALU = {o.name: code for code, o in op.ALU_OPERATORS.items()} | {"sdiv": op.DIV, "smod": op.MOD, "neg": op.NEG}
_JMP = {o.name: code for code, o in op.JMP_OPERATORS.items()}
_SIZES = {suffix: size for size, suffix in op.SIZE_SUFFIXES.items()}
_ATOMIC = {"add": op.ADD, "and": op.AND, "or": op.OR, "xor": op.XOR, "xchg": op.XCHG, "cmpxchg": op.CMPXCHG}


class _Bad(ValueError):
    """A line the dialect does not accept; the caller adds file and line."""


def _number(text: str, bits: int) -> int:
    """C's stoull as the suite uses it, truncated to `bits`: hex if `0x` appears, `-` wraps."""
    body = text
    negative = body.startswith("-")
    if body[:1] in "+-":
        body = body[1:]
    try:
        value = int(body, 16) if "0x" in body.lower() else int(body, 10)
    except ValueError:
        raise _Bad(f"bad number '{text}'") from None
    if negative:
        value = -value
    return value & ((1 << bits) - 1)


def _reg(text: str) -> int:
    if text not in _REGS:
        raise _Bad(f"invalid register '{text}'")
    return _REGS[text]


def _mem_operand(text: str) -> tuple[int, int]:
    """`[%rN]`, `[%rN+off]` or `[%rN-off]` -> (register, 16-bit offset)."""
    if not (text.startswith("[") and text.endswith("]")):
        raise _Bad(f"bad memory operand '{text}'")
    inner = text[1:-1]
    for sign in "+-":
        at = inner.find(sign)
        if at > 0:
            return _reg(inner[:at]), _number(inner[at:], 16)
    return _reg(inner), 0


@dataclass(slots=True)
class _Pending:
    """An instruction whose off (or imm, for calls and ja32) waits for a label."""

    index: int
    label: str
    line: int


class _Assembler:
    def __init__(self, coord: Callable[[int], Coord]) -> None:
        self.coord = coord
        self.insns: list[Insn] = []  # one per slot; ld_imm64's second slot is folded in
        self.slot_count = 0
        self.slot_of: list[int] = []
        self.labels: dict[str, int] = {}
        self.pending: list[_Pending] = []
        self.seen_exit = False

    def target(self, text: str, line: int) -> int:
        if text.startswith(("+", "-")):
            return _number(text, 16)
        self.pending.append(_Pending(len(self.insns), text, line))
        return 0

    def emit(self, insn: Insn) -> None:
        self.insns.append(insn)
        self.slot_of.append(self.slot_count)
        self.slot_count += insn.slots

    def line(self, text: str, line: int) -> None:
        words = text.split()
        if not words:
            return
        mnemonic, operands = words[0], [w.rstrip(",") for w in words[1:]]
        operands = [o for o in operands if o]
        if mnemonic.endswith(":"):
            label = mnemonic[:-1]
            if label in self.labels:
                raise _Bad(f"duplicate label '{label}'")
            self.labels[label] = self.slot_count
            return
        if mnemonic == "exit" and not self.seen_exit:
            self.seen_exit = True  # the suite's implicit label: the first exit
            self.labels.setdefault("exit", self.slot_count)
        self.emit(self.encode(mnemonic, operands, line))

    def encode(self, m: str, ops: list[str], line: int) -> Insn:
        def want(n: int) -> None:
            if len(ops) != n:
                raise _Bad(f"'{m}' takes {n} operand(s), got {len(ops)}")

        if m == "exit":
            want(0)
            return make(op.JMP | op.EXIT)
        if m == "lddw":
            want(2)
            value = _number(ops[1], 64)
            return make(op.LD | op.IMM | op.DW, _reg(ops[0]), imm=value & 0xFFFFFFFF, imm_hi=value >> 32)
        if (m.startswith("ldx") and m[3:] in _SIZES) or (m.startswith("ldxs") and m[4:] in ("b", "h", "w")):
            want(2)
            signed = m.startswith("ldxs")
            size = _SIZES[m[4:] if signed else m[3:]]
            base, off = _mem_operand(ops[1])
            return make(op.LDX | (op.MEMSX if signed else op.MEM) | size, _reg(ops[0]), base, off)
        if m.startswith("stx") and m[3:] in _SIZES:
            want(2)
            base, off = _mem_operand(ops[0])
            return make(op.STX | op.MEM | _SIZES[m[3:]], base, _reg(ops[1]), off)
        if m.startswith("st") and m[2:] in _SIZES:
            want(2)
            base, off = _mem_operand(ops[0])
            return make(op.ST | op.MEM | _SIZES[m[2:]], base, 0, off, _number(ops[1], 32))
        if m == "lock":
            return self.atomic(ops)
        if m in ("ja", "ja32"):
            want(1)
            if m == "ja":
                return make(op.JMP | op.JA, off=self.target(ops[0], line))
            return make(op.JMP32 | op.JA, imm=self.target(ops[0], line))
        if m == "call":
            return self.call(ops, line)
        for prefix, code in (("be", op.ALU | op.END | op.TO_BE), ("le", op.ALU | op.END | op.TO_LE)):
            if m.startswith(prefix) and m[2:].isdigit():
                want(1)
                return make(code, _reg(ops[0]), imm=int(m[2:]))
        for prefix in ("swap", "bswap"):  # ALU64 | END: unconditional byte swap
            if m.startswith(prefix) and m[len(prefix) :].isdigit():
                want(1)
                return make(op.ALU64 | op.END, _reg(ops[0]), imm=int(m[len(prefix) :]))
        jmp = (m[:-2], op.JMP32) if m.endswith("32") and m[:-2] in _JMP else (m, op.JMP) if m in _JMP else None
        if jmp is not None:
            want(3)
            name, cls = jmp
            dst = _reg(ops[0])
            if ops[1].startswith("%"):
                code, src, imm = cls | _JMP[name] | op.X, _reg(ops[1]), 0
            else:
                code, src, imm = cls | _JMP[name] | op.K, 0, _number(ops[1], 32)
            return make(code, dst, src, self.target(ops[2], line), imm)
        return self.alu(m, ops)

    def alu(self, m: str, ops: list[str]) -> Insn:
        if m.startswith("movsx"):  # movsx<from><to>: movsx832, movsx1664, ...
            width, to = m[5:-2], m[-2:]
            if to not in ("32", "64") or not width.isdigit():
                raise _Bad(f"unknown mnemonic '{m}'")
            if len(ops) != 2 or not ops[1].startswith("%"):
                raise _Bad(f"'{m}' takes two registers")
            cls = op.ALU if to == "32" else op.ALU64
            return make(cls | op.MOV | op.X, _reg(ops[0]), _reg(ops[1]), int(width))
        if m.endswith("32") and m[:-2] in _ALU:
            name, cls = m[:-2], op.ALU
        elif m.endswith("64") and m[:-2] in _ALU:
            name, cls = m[:-2], op.ALU64
        elif m in _ALU:
            name, cls = m, op.ALU64
        else:
            raise _Bad(f"unknown mnemonic '{m}'")
        signed = 1 if name in ("sdiv", "smod") else 0
        if name == "neg":
            if len(ops) != 1:
                raise _Bad(f"'{m}' takes 1 operand(s), got {len(ops)}")
            return make(cls | op.NEG, _reg(ops[0]))
        if len(ops) != 2:
            raise _Bad(f"'{m}' takes 2 operand(s), got {len(ops)}")
        if ops[1].startswith("%"):
            return make(cls | _ALU[name] | op.X, _reg(ops[0]), _reg(ops[1]), signed)
        return make(cls | _ALU[name] | op.K, _reg(ops[0]), 0, signed, _number(ops[1], 32))

    def atomic(self, ops: list[str]) -> Insn:
        # lock [fetch] <op>[32] [%rN+off], %rM
        fetch = bool(ops) and ops[0] == "fetch"
        rest = ops[1:] if fetch else ops
        if len(rest) != 3:
            raise _Bad("lock takes [fetch] <op> <mem>, <reg>")
        name = rest[0]
        size = op.W if name.endswith("32") else op.DW
        name = name[:-2] if name.endswith("32") else name
        if name not in _ATOMIC:
            raise _Bad(f"unknown atomic operation '{rest[0]}'")
        imm = _ATOMIC[name] | (op.FETCH if fetch else 0)
        base, off = _mem_operand(rest[1])
        return make(op.STX | op.ATOMIC | size, base, _reg(rest[2]), off, imm)

    def call(self, ops: list[str], line: int) -> Insn:
        if len(ops) == 1:
            ops = ["helper", *ops]
        if len(ops) != 2:
            raise _Bad("call takes [helper|local|runtime] <target>")
        mode, target = ops
        if mode == "helper":
            if target.startswith("%"):  # callx: the register is in dst
                return make(op.JMP | op.CALL | op.X, _reg(target))
            return make(op.JMP | op.CALL, imm=_number(target, 32))
        if mode == "local":
            return make(op.JMP | op.CALL, src=op.PSEUDO_CALL, imm=self.target(target, line))
        if mode == "runtime":
            return make(op.JMP | op.CALL, src=op.PSEUDO_KFUNC_CALL, imm=_number(target, 32))
        raise _Bad(f"invalid call mode '{mode}'")

    def finish(self) -> Slots:
        insns = list(self.insns)
        for p in self.pending:
            if p.label not in self.labels:
                raise InputError(self.coord(p.line), f"unknown label '{p.label}'")
            insn = insns[p.index]
            delta = self.labels[p.label] - self.slot_of[p.index] - 1
            if insn.kind is Kind.CALL or insn.spec.name == "gotol":
                insns[p.index] = insn.replace(imm=delta & 0xFFFFFFFF)
            else:
                insns[p.index] = insn.replace(off=delta & 0xFFFF)
        slots: list[Insn | None] = []
        for insn in insns:
            slots.append(insn)
            if insn.slots == 2:
                slots.append(None)
        return tuple(slots)


def assemble(lines: list[tuple[int, str]], file: str = "<asm>") -> Slots:
    """Assemble (line number, text) pairs in the suite's `%r` dialect."""
    asm = _Assembler(lambda n: Coord(file, line=n))
    for number, raw in lines:
        text = raw.split("#", 1)[0].strip()
        try:
            asm.line(text, number)
        except (_Bad, UnknownOpcode) as exc:
            raise InputError(Coord(file, line=number), str(exc)) from None
    return asm.finish()


def _raw_slots(words: list[tuple[int, str]], file: str) -> Slots:
    data = bytearray()
    for number, word in words:
        try:
            value = _number(word, 64) if "0x" in word else int(word, 10) & ((1 << 64) - 1)
        except (_Bad, ValueError):
            raise InputError(Coord(file, line=number), f"bad raw instruction word '{word}'") from None
        data += value.to_bytes(8, "little")
    try:
        return decode(bytes(data))
    except DecodeError as exc:
        raise InputError(Coord(file, line=words[exc.offset // 8][0]), exc.message) from None


_SECTIONS = ("asm", "raw", "mem", "result", "error", "c", "no register offset")


def parse_case(text: str, file: str = "<data>", name: str | None = None) -> ConformanceCase:
    """Parse the text of one `.data` file."""
    section: str | None = None
    parts: dict[str, list[tuple[int, str]]] = {s: [] for s in _SECTIONS}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip("\r")
        if line.startswith("--"):
            directive = line[2:].strip()
            if directive not in _SECTIONS:
                raise InputError(Coord(file, line=number), f"unknown section '-- {directive}'")
            section = directive
            continue
        if section is None or not line.strip():
            continue
        parts[section].append((number, line))
    result = parts["result"][-1] if parts["result"] else None
    error = parts["error"][-1][1].strip() if parts["error"] else None
    if result is None and error is None:
        raise InputError(Coord(file), "no '-- result' or '-- error' section")
    expected: int | None = None
    if result is not None:
        value = result[1].split("#", 1)[0].strip()
        try:
            expected = _number(value, 64)
        except _Bad:
            raise InputError(Coord(file, line=result[0]), f"bad result '{value}'") from None
    if parts["raw"]:
        words = [(n, w) for n, line in parts["raw"] for w in line.split()]
        slots = _raw_slots(words, file)
    else:
        slots = assemble(parts["asm"], file)
    if not slots:
        raise InputError(Coord(file), "no instructions")
    mem = bytearray()
    for number, line in parts["mem"]:
        for byte in line.split():
            try:
                byte_value = int(byte, 16)
            except ValueError:
                raise InputError(Coord(file, line=number), f"bad memory byte '{byte}'") from None
            mem.append(byte_value & 0xFF)
    return ConformanceCase(name or Path(file).stem, slots, bytes(mem), expected, error, file)


def load_case(path: str | Path) -> ConformanceCase:
    """Read and parse one `.data` file."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise InputError(Coord(str(p)), f"cannot read: {exc.strerror}") from None
    return parse_case(text, str(p), p.stem)


# Results of cases: the same shape from every engine (`bakeoff conformance --json`).


@dataclass(frozen=True, slots=True)
class CaseResult:
    name: str
    ok: bool
    expected: int | str | None  # the `-- result` value, or the `-- error` text
    got: int | str | None  # r0, or the fault

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "ok": self.ok, "expected": self.expected, "got": self.got}


@dataclass(frozen=True, slots=True)
class ConformanceReport:
    engine: str
    cases: tuple[CaseResult, ...]

    @property
    def passed(self) -> int:
        return sum(c.ok for c in self.cases)

    @property
    def failed(self) -> int:
        return len(self.cases) - self.passed

    def to_json(self) -> dict[str, object]:
        return {
            "engine": self.engine,
            "passed": self.passed,
            "failed": self.failed,
            "cases": [c.to_json() for c in self.cases],
        }
