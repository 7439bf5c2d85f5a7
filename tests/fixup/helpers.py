"""Programs from assembly text for the fixup, runtime and JIT tests."""

from __future__ import annotations

from framework.isa import opcodes as op
from framework.isa.llvm_asm import assemble
from framework.load.program import Linkage, Program, Subprog
from framework.machine.conformance import subprog_bounds

THROW = "call 0xbad"  # replaced by a kfunc call to bpf_throw


def program(lines: list[str], prog_type: str = "sched_cls", kfuncs: tuple[str, ...] = ("bpf_throw",)) -> Program:
    """Subprogs where the kernel finds them; `call 0xbad` becomes `call bpf_throw` (kfunc 0)."""
    slots = list(assemble(lines).slots)
    for pc, insn in enumerate(slots):
        if insn is not None and insn.spec.name == "call" and insn.src == 0 and insn.imm == 0xBAD:
            slots[pc] = insn.replace(src=op.PSEUDO_KFUNC_CALL, imm=0)
    bounds = subprog_bounds(tuple(slots))
    subs = tuple(
        Subprog("main" if i == 0 else f"f{i}", s, e, Linkage.GLOBAL if i == 0 else Linkage.STATIC)
        for i, (s, e) in enumerate(bounds)
    )
    return Program(
        name="t", section="tc", prog_type=prog_type, slots=tuple(slots), subprogs=subs, source="<test>",
        sha256="", kfuncs=kfuncs,
    )  # fmt: skip


def chain(depth: int, cookie: int = 7) -> list[str]:
    """main -> f1 -> ... -> f<depth-1>, the innermost throws `cookie`; main returns 1 otherwise."""
    lines = ["call f1" if depth > 1 else f"r1 = {cookie}", *([] if depth > 1 else [THROW]), "r0 = 1", "exit"]
    for d in range(1, depth):
        lines += [f"f{d}:", "r0 = 0"]
        lines += [f"call f{d + 1}"] if d + 1 < depth else [f"r1 = {cookie}", THROW]
        lines += ["exit"]
    return lines
