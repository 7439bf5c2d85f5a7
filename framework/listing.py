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


def listing(program: Program, *, alu32: bool = True) -> str:
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
        text = format_insn(insn, alu32=alu32)
        note = _annotation(program, pc, insn)
        out.append(f"{pc:8d}:\t{_raw(insn)}\t{text}" + (f" <{note}>" if note else ""))
    return "\n".join(out) + "\n"


def x86_listing(program: Program, *, alu32: bool = True) -> str:
    """The program after fixup and JIT: each BPF instruction followed by the x86-64 it became.

    x86 is printed in AT&T syntax, as `bpftool prog dump jited` prints it; prologues
    and epilogue code that belong to no BPF instruction are shown where they sit.
    """
    import iced_x86

    from framework.errors import Coord, InputError
    from framework.fixup import CtxError, fixup_planned
    from framework.jit import JitError
    from framework.kernel.services import EmulatedKernel
    from framework.load.corpus import RunInput
    from framework.machine.engine import jit_program
    from framework.plan import baseline

    try:
        fixed = fixup_planned(baseline(program), program)  # the context accesses the verifier typed are converted
        prepared = jit_program(EmulatedKernel(program, RunInput()), fixed, counter=None)
    except (CtxError, JitError) as exc:  # what Linux's JIT would refuse too, or what the machine lacks
        raise InputError(Coord(program.source, program.section), f"{program.name}: cannot JIT: {exc}") from None
    image, prog = prepared.image, fixed.program
    formatter = iced_x86.Formatter(iced_x86.FormatterSyntax.GAS)
    formatter.uppercase_hex = False

    def x86(start: int, end: int) -> list[str]:
        decoder = iced_x86.Decoder(64, image.code[start:end], ip=image.base + start)
        lines = []
        for ins in decoder:
            raw = image.code[ins.ip - image.base : ins.ip - image.base + ins.len].hex(" ")
            lines.append(f"    {ins.ip - image.base:5x}:\t{raw:<24}\t{formatter.format(ins)}")
        return lines

    out = [f"{program.source}: program {program.name} after fixup, JITed for x86-64 (Linux 6.18's JIT)"]
    for frame, sub in zip(image.frames, prog.subprogs, strict=True):
        tags = ["exception callback"] if sub.is_exception_cb else []
        out += ["", f"<{sub.name}>: stack {frame.stack_depth}" + (f" ({', '.join(tags)})" if tags else "")]
        out += ["  ; prologue", *x86(frame.entry, frame.body)]
        for pc in range(sub.start, sub.end):
            insn = prog.slots[pc]
            start, end = image.pc_offsets[pc], image.pc_ends[pc]
            if insn is None or start is None or end is None:
                continue
            note = _annotation(prog, pc, insn)
            out.append(f"{pc:6d}: {format_insn(insn, alu32=alu32)}" + (f" <{note}>" if note else ""))
            out += x86(start, end)
        last = max((e for e in image.pc_ends[sub.start : sub.end] if e is not None), default=frame.body)
        if last < frame.end:
            out += ["  ; after the last instruction", *x86(last, frame.end)]
    return "\n".join(out) + "\n"
