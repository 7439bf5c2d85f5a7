"""The ledger records each resource's life: leaks, double releases, uses after release, unwinder releases."""

from __future__ import annotations

from framework.kernel.api import Engine, Kernel
from framework.kernel.ledger import EventKind, Ledger, State
from framework.kernel.objects import RunInput
from framework.load.program import MapDef
from framework.run.frames import ThrowState
from framework.run.result import run_program

from .prog import program

TASK_KFUNCS = ("bpf_task_from_pid", "bpf_task_release", "bpf_throw")
RINGBUF = MapDef("rb", "ringbuf", 0, 0, 4096)


def test_ledger_unit() -> None:
    ledger = Ledger()
    a = ledger.acquire("task", 0x1000, 3, "bpf_task_from_pid")
    b = ledger.acquire("task", 0x1000, 5, "bpf_task_acquire")
    assert ledger.release("task", 0x1000, 7, "bpf_task_release") is b  # the most recent reference first
    assert ledger.release("task", 0x1000, 8, "bpf_task_release", unwinder=True) is a
    assert ledger.release("task", 0x1000, 9, "bpf_task_release") is None
    ledger.use(a, 10, "memory access")
    ledger.finish(11)
    assert a.state is State.UNWOUND and b.state is State.RELEASED
    kinds = [e.kind for e in ledger.events]
    assert kinds == [
        EventKind.ACQUIRE,
        EventKind.ACQUIRE,
        EventKind.RELEASE,
        EventKind.UNWINDER_RELEASE,
        EventKind.DOUBLE_RELEASE,
        EventKind.USE_AFTER_RELEASE,
    ]
    assert ledger.leaked == []


def test_leak_is_recorded_with_its_acquiring_pc() -> None:
    prog = program("r1 = 2\ncall bpf_task_from_pid\nr0 = 0\nexit", kfuncs=TASK_KFUNCS)
    result = run_program(prog)
    assert result.fault is None
    (leak,) = result.leaked
    assert leak.kind == "task" and leak.acquired_pc == 1 and leak.acquired_by == "bpf_task_from_pid"
    assert result.double_released == () and result.released_by_unwinder == ()


def test_released_by_the_program_is_not_leaked() -> None:
    text = "r1 = 2\ncall bpf_task_from_pid\nr1 = r0\ncall bpf_task_release\nr0 = 0\nexit"
    result = run_program(program(text, kfuncs=TASK_KFUNCS))
    assert result.leaked == () and result.double_released == ()


def test_double_release_is_recorded() -> None:
    text = """
r1 = 2
call bpf_task_from_pid
r6 = r0
r1 = r6
call bpf_task_release
r1 = r6
call bpf_task_release
r0 = 0
exit
"""
    result = run_program(program(text, kfuncs=TASK_KFUNCS))
    (double,) = result.double_released
    assert double.kind == "task" and double.acquired_pc == 1 and double.released_pc == 6
    assert result.leaked == ()


def test_use_after_release_is_recorded() -> None:
    text = """
r1 = rb ll
r2 = 16
r3 = 0
call 131
if r0 == 0 goto out
r6 = r0
r1 = r0
r2 = 0
call 132
r1 = 7
*(u64 *)(r6 + 0) = r1
out:
r0 = 0
exit
"""
    result = run_program(program(text, maps=(RINGBUF,)))
    assert result.fault is None
    (use,) = result.used_after_release
    assert use.kind == "ringbuf" and use.acquired_pc == 4
    assert use.released_pc == 11 and use.released_by == "store"  # the event: where and how it was used
    assert result.leaked == () and result.double_released == ()


def _release_r6_task(state: ThrowState, kernel: Kernel, engine: Engine) -> None:
    """An unwinder that releases the task the innermost frame holds in r6."""
    task = state.frames[-1].callee_saved[0]
    kernel.kfunc("bpf_task_release", (task, 0, 0, 0, 0), engine)


THROWING = """
r1 = 2
call bpf_task_from_pid
if r0 == 0 goto out
r6 = r0
r1 = 9
call bpf_throw
r1 = r6
call bpf_task_release
out:
r0 = 0
exit
"""


def test_release_by_an_unwinder_is_recorded() -> None:
    result = run_program(program(THROWING, kfuncs=TASK_KFUNCS), unwinder=_release_r6_task)
    assert result.threw and result.cookie == 9 and result.retval == 9
    (unwound,) = result.released_by_unwinder
    assert unwound.kind == "task" and unwound.acquired_pc == 1 and unwound.released_pc == 5  # the throwing pc
    assert result.leaked == ()


def test_a_throw_without_unwinder_leaks() -> None:
    result = run_program(program(THROWING, kfuncs=TASK_KFUNCS))
    assert result.threw and [r.kind for r in result.leaked] == ["task"]
    assert result.released_by_unwinder == ()


def test_unknown_pid_acquires_nothing() -> None:
    prog = program("r1 = 4242\ncall bpf_task_from_pid\nexit", kfuncs=TASK_KFUNCS)
    assert run_program(prog).retval == 0
    result = run_program(prog, RunInput(tasks=(4242,)))
    assert result.retval != 0 and [r.kind for r in result.leaked] == ["task"]


def test_to_json_has_the_exec_keys() -> None:
    result = run_program(program(THROWING, kfuncs=TASK_KFUNCS))
    data = result.to_json()
    for key in (
        "program",
        "strategy",
        "engine",
        "retval",
        "threw",
        "cookie",
        "x86_insns",
        "stack_high_water",
        "released_by_unwinder",
        "leaked",
        "double_released",
    ):
        assert key in data
    assert data["engine"] == "interp" and data["x86_insns"] is None and data["strategy"] == "stock"
    assert data["leaked"] == [
        {"kind": "task", "acquired_pc": 1, "acquired_by": "bpf_task_from_pid", "released_pc": None, "released_by": None}
    ]
