"""The verifier and both engines on generated programs: a verdict or a run, never an exception.

Programs are drawn instruction by instruction from every form Linux accepts (framework/isa/
opcodes.SPECS), with registers mostly r0-r10 (sometimes r11-r15, which check_reg_arg refuses),
small offsets and immediates, jumps and calls that land in the program, helper, kfunc and
static calls, map and function references. Each is verified (the message within MAX_MESSAGE);
what the verifier accepts runs on the interpreter and the JIT, and every program also runs
unverified on the interpreter, as `exec --no-verify` does, bounded by an instruction and a
time budget.
"""

from __future__ import annotations

from hypothesis import event, example, given
from hypothesis import strategies as st

from framework.errors import MAX_MESSAGE, InputError
from framework.isa import opcodes as op
from framework.isa.insn import Insn, UnknownOpcode, make
from framework.isa.opcodes import SPECS, Kind
from framework.kernel.objects import RunInput
from framework.load.program import Linkage, MapDef, Program, Subprog
from framework.run.result import run_program
from framework.verify import verify

from .fuzzing import budget

KFUNCS = ("bpf_throw", "bpf_task_from_pid", "bpf_task_release", "bpf_obj_drop_impl")
ARRAY = MapDef("m", "array", 4, 16, 4)
PACKET = RunInput("pkt", bytes(range(64)))
_SPECS = [s for s in SPECS if s.kind is not Kind.CALLX]
_IMMS = [0, 1, -1, 2, 4, 8, 16, 32, 63, 64, 0x7FFFFFFF, -(2**31), 0xFF]
_COMMON = [s for s in SPECS if s.kind in (Kind.ALU, Kind.JCOND, Kind.LOAD, Kind.STORE_REG) and s.cls != op.LD]
_OFFS = [0, 1, -1, 2, 4, -4, 8, -8, 16, -16, -512, 0x7FFF]


@st.composite
def programs(draw: st.DrawFn) -> Program:
    count = draw(st.integers(1, 14))
    insns: list[Insn] = []
    if draw(st.integers(0, 3)):  # mostly: the context kept in r6, the other registers set, stack slots written
        insns += [make(op.ALU64 | op.MOV | op.X, 6, 1)]
        insns += [
            make(op.ALU64 | op.MOV | op.K, r, 0, 0, draw(st.sampled_from(_IMMS))) for r in (0, 2, 3, 4, 5, 7, 8, 9)
        ]
        insns += [make(op.STX | op.MEM | op.DW, 10, 7, -8 * k) for k in (1, 2, 3, 4)]
    base_len = len(insns)
    for i in range(base_len, base_len + count):
        spec = draw(st.one_of(st.sampled_from(_SPECS), st.sampled_from(_COMMON)))
        reg = st.one_of(st.integers(0, 10), st.integers(0, 15)) if draw(st.integers(0, 19)) == 0 else st.integers(0, 10)
        dst, src = (
            draw(reg),
            draw(reg) if spec.code & op.X or spec.kind in (Kind.LOAD, Kind.STORE_REG, Kind.ATOMIC) else 0,
        )
        if spec.kind in (Kind.LOAD, Kind.STORE_REG, Kind.STORE_IMM, Kind.ATOMIC) and draw(st.booleans()):
            base = draw(st.sampled_from([10, 6]))
            dst, src = (dst, base) if spec.kind is Kind.LOAD else (base, src)
            off = -8 * draw(st.integers(1, 4)) if base == 10 else draw(st.sampled_from([0, 4, 8, 16, 76, 80]))
        else:
            off = spec.off if spec.off is not None else draw(st.sampled_from(_OFFS))
        imm = spec.imm if spec.imm is not None else draw(st.sampled_from(_IMMS))
        if spec.kind in (Kind.JA, Kind.JCOND, Kind.MAY_GOTO):
            target = draw(st.integers(i + 1 if draw(st.integers(0, 3)) else base_len, base_len + count))
            off = target - i - 1
            if spec.kind is Kind.JA and spec.cls == op.JMP32:
                imm, off = off, 0
        elif spec.kind is Kind.CALL:
            src = draw(st.sampled_from([0, op.PSEUDO_CALL, op.PSEUDO_KFUNC_CALL]))
            if src == op.PSEUDO_CALL:
                imm = draw(st.integers(0, base_len + count)) - i - 1
            elif src == op.PSEUDO_KFUNC_CALL:
                imm = draw(st.integers(0, len(KFUNCS) - 1))
            else:
                imm = draw(st.sampled_from([1, 2, 3, 5, 6, 7, 12, 14, 23, 25, 130, 181, 9999]))
        elif spec.kind is Kind.LD_IMM64:
            src = draw(st.sampled_from([0, op.PSEUDO_MAP_IDX, op.PSEUDO_MAP_IDX_VALUE, op.PSEUDO_FUNC]))
            imm = draw(st.integers(0, base_len + count)) - i - 1 if src == op.PSEUDO_FUNC else (0 if src else imm)
        try:
            insns.append(make(spec.code, dst, src, off, imm))
        except UnknownOpcode:
            insns.append(make(op.ALU64 | op.MOV | op.K, 0, 0, 0, 0))
    if draw(st.integers(0, 5)):  # mostly a proper end
        insns += [make(op.ALU64 | op.MOV | op.K, 0, 0, 0, 0), make(op.JMP | op.EXIT)]
    return _program(insns)


def _program(insns: list[Insn]) -> Program:
    slots: list[Insn | None] = []
    pcs: list[int] = []
    for insn in insns:
        pcs.append(len(slots))
        slots.append(insn)
        if insn.slots == 2:
            slots.append(None)
    # jumps were drawn in instructions: rewrite them in slots, as the encoder counts
    fixed: list[Insn | None] = list(slots)
    index = {pc: i for i, pc in enumerate(pcs)}
    ends = [*pcs, len(slots)]
    starts = {0}
    for pc, insn in enumerate(slots):
        if insn is None:
            continue
        i = index[pc]
        relative = insn.kind in (Kind.JA, Kind.JCOND, Kind.MAY_GOTO) or (
            insn.src in (op.PSEUDO_CALL, op.PSEUDO_FUNC) and insn.kind in (Kind.CALL, Kind.LD_IMM64)
        )
        if not relative:
            continue
        field = "imm" if insn.kind in (Kind.CALL, Kind.LD_IMM64) or (insn.kind is Kind.JA and insn.off == 0) else "off"
        delta = getattr(insn, field)
        target = ends[min(max(i + 1 + delta, 0), len(insns))]
        fixed[pc] = insn.replace(**{field: target - pc - 1})
        if insn.kind in (Kind.CALL, Kind.LD_IMM64) and target < len(slots):
            starts.add(target)
    ordered = sorted(starts)
    subs = tuple(
        Subprog("main" if s == 0 else f"sub_{s}", s, (ordered[k + 1] if k + 1 < len(ordered) else len(slots)),
                Linkage.GLOBAL if s == 0 else Linkage.STATIC)
        for k, s in enumerate(ordered)
    )  # fmt: skip
    return Program(
        name="fuzz",
        section="tc",
        prog_type="sched_cls",
        slots=tuple(fixed),
        subprogs=subs,
        source="<fuzz>",
        sha256="",
        maps=(ARRAY,),
        kfuncs=KFUNCS,
    )


def _run(program: Program, engine: str) -> None:
    try:
        result = run_program(program, PACKET, engine, max_insns=20_000, timeout_s=0.5)
    except InputError as exc:
        assert len(str(exc)) <= MAX_MESSAGE, str(exc)[:400]
        event(f"{engine}: refused")
        return
    event(f"{engine}: {'timeout' if result.timed_out else 'fault' if result.fault else 'ran'}")


@given(programs())
@example(_program([make(op.ALU64 | op.MOV | op.X, 12, 1), make(op.JMP | op.EXIT)]))  # r12 = r1: R12 is invalid
# if r0 == r11 goto: R11 is invalid (found by tox -e fuzz: the history entry read regs[11])
@example(
    _program(
        [
            make(op.ALU64 | op.MOV | op.K, 0),
            make(op.ALU64 | op.MOV | op.K, 0),
            make(op.JMP | op.JEQ | op.X, 0, 11, -2, 1),
            make(op.JMP | op.EXIT),
        ]
    )
)
@example(_program([make(op.ALU64 | op.MOV | op.K, 0, 0, 0, 0), make(op.JMP | op.JA, 0, 0, -1)]))  # goto -1
@example(
    _program(
        [make(op.ALU64 | op.MOV | op.K, 0, 0, 0, 0), make(op.ALU64 | op.MOV | op.X, 0, 0, 1, 1), make(op.JMP | op.EXIT)]
    )
)
@budget(40)
def test_verifier_and_engines_never_raise(program: Program) -> None:
    analysis = verify(program, log_level=0)
    event("accepted" if analysis.accepted else "rejected")
    assert analysis.accepted or (analysis.message is not None and len(analysis.message) <= MAX_MESSAGE)
    if all(r <= 10 for _, insn in program.insns() for r in insn.registers):  # what a loader can produce
        _run(program, "interp")  # unverified, as exec --no-verify runs it
    if analysis.accepted:
        from framework.runtime.build import compiler_missing

        if compiler_missing() is None:
            _run(program, "jit")


CAST = make(op.ALU64 | op.MOV | op.X, 0, 0, 1, 1)  # r0 = addr_space_cast(r0, 0, 1)


def test_addr_space_cast_without_an_arena_is_refused() -> None:
    """Found by this fuzzing: the cast (alu64 mov_x, off 1) was read as a sign-extending move of
    width 8 * 1 bits and raised ValueError (negative shift count) in scalar._sext."""
    zero = make(op.ALU64 | op.MOV | op.K, 0, 0, 0, 0)
    analysis = verify(_program([zero, CAST, make(op.JMP | op.EXIT)]), log_level=0)
    assert analysis.message == "addr_space_cast insn can only be used in a program that has an associated arena"
    bad = make(op.ALU64 | op.MOV | op.X, 0, 0, 1, 2)
    analysis = verify(_program([zero, bad, make(op.JMP | op.EXIT)]), log_level=0)
    assert analysis.message == "addr_space_cast insn can only convert between address space 1 and 0"


def test_register_mov_with_an_immediate_uses_reserved_fields() -> None:
    zero = make(op.ALU64 | op.MOV | op.K, 0, 0, 0, 0)
    analysis = verify(_program([zero, make(op.ALU64 | op.MOV | op.X, 1, 0, 0, 7), make(op.JMP | op.EXIT)]))
    assert analysis.message == "BPF_MOV uses reserved fields"
