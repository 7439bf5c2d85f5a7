"""Hand-written programs for kernel tests: LLVM-syntax text to a `Program`, without a verifier.

`call <name>` becomes a kfunc call (imm = index in `kfuncs`), `rX = <label> ll` a
function's address (BPF_PSEUDO_FUNC), `rX = <map> ll` a map reference (src
BPF_PSEUDO_MAP_IDX, imm = index in `maps`), as Program encodes them.
Labels listed in `subprogs` start functions; the first function is main.
"""

from __future__ import annotations

from collections.abc import Sequence

from framework.isa import opcodes as op
from framework.isa.llvm_asm import assemble
from framework.load.program import Linkage, MapDef, Program, Subprog


def program(
    text: str,
    *,
    kfuncs: Sequence[str] = (),
    maps: Sequence[MapDef] = (),
    subprogs: Sequence[str] = (),
    exception_cb: str | None = None,
    prog_type: str = "sched_cls",
) -> Program:
    asm = assemble(text.strip().splitlines())
    slots = list(asm.slots)
    names = [m.name for m in maps]
    for pc, symbol, fld in asm.relocations:
        insn = slots[pc]
        assert insn is not None
        if fld == "call":
            slots[pc] = insn.replace(src=op.PSEUDO_KFUNC_CALL, imm=list(kfuncs).index(symbol))
        elif symbol in asm.labels:  # a function's address: BPF_PSEUDO_FUNC, pc-relative
            slots[pc] = insn.replace(src=op.PSEUDO_FUNC, imm=asm.labels[symbol] - pc - 1)
        else:
            slots[pc] = insn.replace(src=op.PSEUDO_MAP_IDX, imm=names.index(symbol))
    starts = sorted({0, *(asm.labels[s] for s in subprogs)})
    bounds = [*starts, len(slots)]
    by_start = {asm.labels[s]: s for s in subprogs}
    subs = tuple(
        Subprog(
            by_start.get(start, "main"),
            start,
            bounds[i + 1],
            Linkage.GLOBAL,
            is_exception_cb=exception_cb is not None and by_start.get(start) == exception_cb,
        )
        for i, start in enumerate(starts)
    )
    return Program(
        name="test",
        section="tc",
        prog_type=prog_type,
        slots=tuple(slots),
        subprogs=subs,
        source="<test>",
        sha256="",
        maps=tuple(maps),
        kfuncs=tuple(kfuncs),
    )
