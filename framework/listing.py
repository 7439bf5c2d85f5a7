"""Program listings in llvm-objdump's layout, for `bakeoff disasm`.

The same layout as `llvm-objdump -d -l`: a `<symbol>:` header per function,
`; source line` before the instructions a line-info record covers, then
`pc: raw bytes<TAB>instruction`. Calls, maps and function pointers are
symbolized as objdump symbolizes branch targets: `<name>` after the text.
"""

from __future__ import annotations

from framework.isa import opcodes as op
from framework.isa.insn import Insn
from framework.isa.llvm_syntax import format_insn
from framework.isa.opcodes import Kind
from framework.load.program import Program


def _annotation(program: Program, pc: int, insn: Insn) -> str:
    """What objdump would print between <> after the instruction, if anything."""
    if insn.kind is Kind.CALL:
        if insn.src == op.PSEUDO_KFUNC_CALL and 0 <= insn.imm < len(program.kfuncs):
            return program.kfuncs[insn.imm]
        if insn.src == op.PSEUDO_CALL:
            target = insn.jump_target(pc)
            return program.symbols.get(target, f"pc {target}")
        return ""
    if insn.kind is Kind.LD_IMM64:
        if insn.src in (op.PSEUDO_MAP_IDX, op.PSEUDO_MAP_IDX_VALUE) and 0 <= insn.imm < len(program.maps):
            name = program.maps[insn.imm].name
            return f"{name}+0x{insn.imm_hi:x}" if insn.src == op.PSEUDO_MAP_IDX_VALUE and insn.imm_hi else name
        if insn.src == op.PSEUDO_FUNC:
            target = insn.jump_target(pc)
            return program.symbols.get(target, f"pc {target}")
        return ""
    if insn.kind in (Kind.JA, Kind.JCOND, Kind.MAY_GOTO):
        target = insn.jump_target(pc)
        label = program.symbols.get(target)
        return label or ""
    return ""


def _raw(insn: Insn) -> str:
    return " ".join(f"{b:02x}" for b in insn.encode())


def listing(program: Program) -> str:
    """The whole program, every subprog, as text."""
    starts = {sub.start: sub for sub in program.subprogs}
    lines_at: dict[int, list[str]] = {}
    for info in program.line_info:
        if info.text:
            lines_at.setdefault(info.pc, []).append(f"; {info.text.strip()}")
    out = [
        f"{program.source}: program {program.name} (section {program.section}, type {program.prog_type})",
    ]
    last_source: str | None = None
    for pc, insn in program.insns():
        if pc in starts:
            sub = starts[pc]
            tags = [sub.linkage.value]
            if sub.is_exception_cb:
                tags.append("exception callback")
            out += ["", f"{pc * 8:016x} <{sub.name}>: ({', '.join(tags)})"]
        elif pc in program.symbols:
            out.append(f"<{program.symbols[pc]}>:")
        for source in lines_at.get(pc, []):
            if source != last_source:
                out.append(source)
                last_source = source
        text = format_insn(insn)
        note = _annotation(program, pc, insn)
        out.append(f"{pc:8d}:\t{_raw(insn)}\t{text}" + (f" <{note}>" if note else ""))
    return "\n".join(out) + "\n"
