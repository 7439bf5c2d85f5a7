"""The verifier-log printer against the running kernel's own log (Linux 6.18 here).

At log level 2, Linux 6.15+ prints a "Live regs before insn" table listing every
instruction with print_bpf_insn before it verifies anything, so a program whose
every instruction is reachable in the CFG is printed whole, even when do_check then
rejects it. The test loads (never attaches) one sched_cls program holding every
specimen of every form and compares the kernel's text, line for line, with
`kernel_syntax.format_insn`. Skipped where bpf() is not permitted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from framework.isa import opcodes as op
from framework.isa.insn import Insn, make
from framework.isa.kernel_syntax import format_insn
from framework.isa.opcodes import SPECS, Kind

from .specimens import insns_of, specimens

bpf_syscall = pytest.importorskip("framework.oracle.bpf_syscall")
check = pytest.importorskip("framework.oracle.check")
vmlinux = pytest.importorskip("framework.oracle.vmlinux")

pytestmark = pytest.mark.kernel

# A table row: optional SCC id, pc, the live-register column, then the instruction.
_ROW = re.compile(r"^\s*(?:\d+\s+)?(?P<pc>\d+): [0-9.]+ (?P<text>\(.*)$")
_JUMP_KINDS = (Kind.JA, Kind.JCOND, Kind.MAY_GOTO)


@pytest.fixture(scope="module")
def kernel() -> None:
    reason = check.available()
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def throw_id(kernel: None) -> int:
    ids = vmlinux.func_ids(("bpf_throw",))
    if "bpf_throw" not in ids:
        pytest.skip("the running kernel's BTF has no bpf_throw")
    return int(ids["bpf_throw"])


def _lay_out(body: Sequence[Insn]) -> list[Insn]:
    """`body` with jump offsets that keep every instruction reachable in the CFG.

    Unconditional jumps get +0 (else the next instruction is unreachable); other
    jumps cycle through +0, +1, -2, +1 where the target starts an instruction
    inside the body (or is the instruction after it), else +0.
    """
    starts: list[int] = []
    pc = 0
    for insn in body:
        starts.append(pc)
        pc += insn.slots
    valid = {*starts, pc}
    out = []
    for k, (insn, at) in enumerate(zip(body, starts, strict=True)):
        if insn.kind is Kind.JA:
            insn = insn.replace(imm=0) if insn.spec.name == "gotol" else insn.replace(off=0)
        elif insn.kind in (Kind.JCOND, Kind.MAY_GOTO):
            off = (0, 1, -2, 1)[k % 4]
            insn = insn.replace(off=off if at + 1 + off in valid else 0)
        out.append(insn)
    return out


def _printable(insn: Insn) -> bool:
    """Forms that reach the table: not calls/exits (placed by hand), not callx
    (refused early: "unknown opcode 8d"), not ld_imm64 pseudo sources (need maps/BTF)."""
    if insn.kind in (Kind.CALL, Kind.CALLX, Kind.EXIT):
        return False
    return not (insn.kind is Kind.LD_IMM64 and insn.src != 0)


def _program(body: Sequence[Insn], throw: int) -> list[Insn]:
    """`body`, then helper, kfunc and BPF-to-BPF calls and a subprog address, exit, and the subprog."""
    tail = [make(op.JMP | op.CALL, imm=5), make(op.JMP | op.CALL, imm=211)]
    tail.append(make(op.JMP | op.CALL, src=op.PSEUDO_KFUNC_CALL, imm=throw))
    # `r1 = <subprog>` (BPF_PSEUDO_FUNC: imm is the subprog's pc relative to the next slot)
    tail.append(make(op.LD | op.IMM | op.DW, 1, op.PSEUDO_FUNC, imm=3))
    tail += [make(op.JMP | op.CALL, src=op.PSEUDO_CALL, imm=1), make(op.JMP | op.EXIT)]
    tail += [make(op.ALU64 | op.MOV | op.K, 0, imm=0), make(op.JMP | op.EXIT)]
    return [*body, *tail]


def _kernel_listing(program: Sequence[Insn]) -> tuple[dict[int, str], str]:
    code = b"".join(i.encode() for i in program)
    attr = bpf_syscall.ProgLoadAttr(
        prog_type=bpf_syscall.PROG_TYPES["sched_cls"], insns=code, log_level=2, name="isa_klog"
    )
    result = bpf_syscall.prog_load(attr)
    if result.fd is not None:
        result.fd.close()
    rows = {int(m["pc"]): m["text"] for m in map(_ROW.match, result.log.splitlines()) if m}
    return rows, result.log


def _compare(program: Sequence[Insn], throw: int) -> list[str]:
    def kfunc_name(insn: Insn) -> str | None:  # what the verifier's disasm_kfunc_name finds in BTF
        return "bpf_throw" if insn.src == op.PSEUDO_KFUNC_CALL and insn.imm == throw else None

    rows, log = _kernel_listing(program)
    assert rows, f"the kernel printed no instruction table:\n{log[:2000]}"
    problems = []
    pc = 0
    for insn in program:
        ours = format_insn(insn, call_name=kfunc_name)
        if rows.get(pc) != ours:
            problems.append(f"pc {pc} {insn.spec.name}: kernel {rows.get(pc)!r} != ours {ours!r}")
        pc += insn.slots
    return problems


def test_every_specimen_as_the_kernel_prints_it(throw_id: int) -> None:
    body = _lay_out([i for s in SPECS for i in specimens(s) if _printable(i)])
    printed = {i.spec.name for i in body} | {"call", "exit"}
    assert printed == {s.name for s in SPECS} - {"callx"}
    problems = _compare(_program(body, throw_id), throw_id)
    assert not problems, "\n".join(problems[:30])


def test_kernel_refuses_callx(kernel: None) -> None:
    """Linux has no callx: the project prints `(8d) callx r1`, the kernel refuses the opcode."""
    _, log = _kernel_listing([make(op.JMP | op.CALL | op.X, 1), make(op.JMP | op.EXIT)])
    assert "unknown opcode 8d" in log
    assert format_insn(make(op.JMP | op.CALL | op.X, 1)) == "(8d) callx r1"


_random_body = st.lists(
    st.sampled_from([s for s in SPECS if s.kind not in (Kind.CALL, Kind.CALLX, Kind.EXIT)])
    .flatmap(insns_of)
    .filter(_printable),
    min_size=1,
    max_size=200,
)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(_random_body)
def test_random_programs_as_the_kernel_prints_them(throw_id: int, body: list[Insn]) -> None:
    problems = _compare(_program(_lay_out(body), throw_id), throw_id)
    assert not problems, "\n".join(problems[:30])
