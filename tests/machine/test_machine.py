"""The Unicorn machine: services through trap stubs, exact counts, stack high-water, faults."""

from __future__ import annotations

from pathlib import Path

import pytest

from framework.fixup import fixup_slots
from framework.isa.decode import Slots
from framework.isa.llvm_asm import assemble
from framework.jit import SubprogSpec, jit
from framework.load.conformance import load_case
from framework.machine import Machine, ServiceCall, StubResolver
from framework.machine import memory as mm
from framework.machine.conformance import STACK, run_case, subprog_bounds
from framework.run.conformance import run_conformance

SUITE = Path(__file__).parents[2] / "../shared/conformance/bpf_conformance"
FILES = sorted(SUITE.glob("*.data")) if SUITE.is_dir() else []
needs_suite = pytest.mark.skipif(not FILES, reason=f"bpf_conformance suite not found at {SUITE}")


def asm(*lines: str) -> Slots:
    return assemble(lines).slots


def machine(
    *lines: str, depths: list[int] | None = None, subs: list[SubprogSpec] | None = None, **kw: object
) -> Machine:
    image = jit(asm(*lines), subs, stack_depths=depths or [0], resolver=StubResolver())
    return Machine(image, **kw)  # type: ignore[arg-type]


def test_returns_r0_and_counts_exactly() -> None:
    m = machine("r0 = 0", "r1 = 10", "loop:", "r0 += r1", "r1 -= 1", "if r1 != 0 goto loop", "exit")
    result = m.run()
    assert result.fault is None and result.retval == 55
    # prologue (nop5, nop3, push, mov) + 2 movs + 10 * (add, sub, test, jne) + leave, jmp thunk, ret
    assert result.x86_insns == 4 + 2 + 40 + 3 == m.count_each_instruction()


def test_helper_calls_go_through_stubs_once_each() -> None:
    seen: list[tuple[str, int, tuple[int, ...]]] = []

    def helper(call: ServiceCall) -> int:
        seen.append((call.kind, call.number, call.args))
        return call.args[0] * 2

    m = machine("r1 = 21", "r2 = 3", "call 9", "exit", helpers={9: helper})
    result = m.run()
    assert result.retval == 42 and result.service_calls == 1
    assert seen == [("helper", 9, (21, 3, 0, 0, 0))]
    # the stub (int3; ret) is not counted: prologue 4, 2 movs, call, leave, jmp thunk, ret
    assert result.x86_insns == 10 == m.count_each_instruction()


def test_stack_high_water_counts_sub_rsp_pushes_and_calls() -> None:
    # main: return address, push rbp, 16 bytes of stack, push rbx; the call pushes 8 more
    lines = ("r6 = 1", "call f", "r0 = r6", "exit", "f:", "r0 = 2", "exit")
    subs = [SubprogSpec("main", 0, 4), SubprogSpec("f", 4, 6)]
    m = machine(*lines, depths=[16, 40], subs=subs)
    result = m.run()
    main = 8 + 16 + 8  # push rbp, stack, push rbx (the return address sits at the entry rsp)
    callee = 8 + 8 + 40  # its return address, push rbp, its (never written) stack
    assert result.retval == 1 and result.stack_high_water == main + callee


def test_fault_reports_the_bpf_pc() -> None:
    m = machine("r1 = 0x10", "r0 = *(u64 *)(r1 + 0)", "exit")
    result = m.run()
    assert result.fault is not None
    assert result.fault.pc == 1 and result.fault.address == 0x10
    assert "unmapped" in result.fault.reason


def test_division_by_zero_without_the_fixups_is_a_fault_not_a_crash() -> None:
    m = machine("r1 = 0", "r0 = 5", "r0 /= r1", "exit")
    result = m.run()
    assert result.fault is not None and result.fault.pc == 2 and "#DE" in result.fault.reason


def test_division_guards_make_it_return_zero() -> None:
    fixed = fixup_slots(asm("r1 = 0", "r0 = 5", "r0 /= r1", "w2 = -1", "w3 = 7", "w3 s%= w2", "r0 += r3", "exit"))
    result = Machine(jit(fixed.slots, stack_depths=[0])).run()
    assert result.fault is None and result.retval == 0


def test_stack_overflow_hits_the_guard_page() -> None:
    m = machine("f:", "call f", "exit", depths=[512])
    result = m.run()
    assert result.fault is not None and "guard page" in result.fault.reason


def test_conformance_memory_is_r1_and_r2() -> None:
    m = machine("r0 = *(u8 *)(r1 + 1)", "r0 += r2", "exit")
    address = m.map_region("mem", b"\x01\x02\x03")
    assert address >= mm.DATA_BASE
    assert m.run([address, 3]).retval == 5


@needs_suite
def test_conformance_all_pass() -> None:
    report = run_conformance([SUITE], "jit")
    failures = [(c.name, c.expected, c.got) for c in report.cases if not c.ok]
    assert failures == []
    assert report.passed == len(FILES) == 313
    assert report.to_json()["engine"] == "jit"


@needs_suite
@pytest.mark.parametrize("path", FILES[::7], ids=[p.stem for p in FILES[::7]])
def test_block_counts_equal_per_instruction_counts(path: Path) -> None:
    case = load_case(path)
    fixed = fixup_slots(case.slots, subprog_bounds(case.slots))
    subs = [SubprogSpec(f"f{i}", s, e) for i, (s, e) in enumerate(fixed.bounds)]
    image = jit(fixed.slots, subs, stack_depths=[STACK] * len(subs), resolver=StubResolver())
    m = Machine(image, helpers={5: lambda call: call.args[0]})
    args = (m.map_region("mem", case.mem), len(case.mem)) if case.mem else (0, 0)
    assert m.run(args).x86_insns == m.count_each_instruction(args)
    verdict, run = run_case(case)  # on an image that counts itself
    assert verdict.ok and run is not None and run.x86_insns == m.run(args).x86_insns


def test_an_image_with_counters_counts_the_same_and_hides_them() -> None:
    lines = ("r6 = 3", "loop:", "call f", "r6 -= 1", "if r6 != 0 goto loop",
             "r2 = atomic_fetch_or((u64 *)(r10 - 8), r2)", "exit", "f:", "r0 = 1", "exit")  # fmt: skip
    slots = asm(*lines)
    subs = [SubprogSpec("main", 0, 6), SubprogSpec("f", 6, 8)]
    plain = jit(slots, subs, stack_depths=[8, 0], resolver=StubResolver())
    counted = jit(slots, subs, stack_depths=[8, 0], resolver=StubResolver(), counter=mm.COUNTER)
    a, b = Machine(plain).run(), Machine(counted).run()
    assert a.fault is None and b.fault is None
    assert (a.retval, a.x86_insns, a.stack_high_water) == (b.retval, b.x86_insns, b.stack_high_water)
    assert a.x86_insns == Machine(plain).count_each_instruction()
    assert len(counted.code) > len(plain.code)  # sizes come from the plain image


def test_a_program_that_never_returns_times_out_with_a_fault() -> None:
    m = machine("loop:", "r0 += 1", "goto loop")
    result = m.run(timeout_us=100_000)
    assert result.timed_out and result.fault is not None and "time limit of 0.1 s" in result.fault.reason
    assert not machine("r0 = 1", "exit").run(timeout_us=100_000).timed_out
