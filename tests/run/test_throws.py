"""Throwing points and their guards (framework.throwpoints), and forcing them on both engines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from framework.errors import InputError
from framework.load.asm import load_asm
from framework.load.corpus import CorpusEntry, corpus_entries, manifests
from framework.load.program import Program
from framework.run.exercise import exercise
from framework.run.result import TIMEOUT_S, run_program
from framework.throwpoints import Force, Guard, ThrowPoint, throw_points


def _asm(tmp_path: Path, body: str) -> Program:
    path = tmp_path / "p.s"
    path.write_text(f"# program: p\n# section: tc\n# kfunc: bpf_throw\n{body}")
    (program,) = load_asm(str(path))
    return program


# (name, body, the points with their guards as (pc, taken))
CASES = [
    (
        "guard_falls_through_to_the_throw",
        """
  r0 = 0
  if r1 != 0 goto out
  r1 = 7
  call bpf_throw
out:
  exit
""",
        [(3, [(1, False)])],
    ),
    (
        "guard_jumps_to_the_throw",
        """
  r0 = 0
  if r1 == 0 goto bad
  exit
bad:
  r1 = 7
  call bpf_throw
  exit
""",
        [(4, [(1, True)])],
    ),
    (
        "a_branch_both_of_whose_sides_reach_it_is_no_guard",
        """
  r0 = 0
  if r1 != 0 goto out
  if r2 == 0 goto join
  r3 = 1
join:
  r1 = 7
  call bpf_throw
out:
  exit
""",
        [(5, [(1, False)])],
    ),
    (
        "two_guards_either_leads_to_it",
        """
  r0 = 0
  if r1 == 1 goto bad
  if r1 == 2 goto bad
  exit
bad:
  r1 = 7
  call bpf_throw
  exit
""",
        [(5, [(1, True), (2, True)])],
    ),
    (
        "no_guard_and_an_unreachable_throw",
        """
  r1 = 7
  call bpf_throw
  r1 = 8
  call bpf_throw
  exit
""",
        [(1, [])],
    ),
]


@pytest.mark.parametrize(("name", "body", "points"), CASES, ids=[c[0] for c in CASES])
def test_throw_points(tmp_path: Path, name: str, body: str, points: list[tuple[int, list[tuple[int, bool]]]]) -> None:
    got = throw_points(_asm(tmp_path, body))
    assert got == tuple(ThrowPoint(pc, tuple(Guard(g, t) for g, t in guards)) for pc, guards in points)


# r7 is skb->len, unknown to the verifier (so the throw is code it reaches) and never 1..4 at run time
LOOP = """
  r7 = *(u32 *)(r1 + 0)
  r6 = 0
loop:
  r6 += 1
  if r6 > 4 goto out
  if r6 != r7 goto loop
  r1 = r6
  call bpf_throw
out:
  r0 = r6
  exit
"""


@pytest.mark.parametrize("engine", ["interp", "jit"])
@pytest.mark.parametrize("hit", [1, 3, 4])
def test_forcing_throws_at_the_named_reach_on_both_engines(tmp_path: Path, engine: str, hit: int) -> None:
    program = _asm(tmp_path, LOOP)
    (point,) = throw_points(program)
    assert point.guards == (Guard(4, False),)
    plain = run_program(program, engine=engine)
    assert (plain.threw, plain.retval) == (False, 5)
    forced = run_program(program, engine=engine, force=Force(point, hit))
    assert (forced.threw, forced.cookie, forced.guard_reaches) == (True, hit, hit)


@pytest.mark.parametrize("engine", ["interp", "jit"])
def test_a_reach_the_run_never_makes_forces_nothing(tmp_path: Path, engine: str) -> None:
    program = _asm(tmp_path, LOOP)
    (point,) = throw_points(program)
    r = run_program(program, engine=engine, force=Force(point, 9))
    assert (r.threw, r.retval, r.guard_reaches) == (False, 5, 4)


def test_a_throw_the_verifier_proves_dead_is_not_forced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """r1 is 0, so the verifier never takes the branch to the throw: forcing it would run code
    it never checked. throw_points(..., reached) leaves it out; exec reports it as dead."""
    from framework.cli import main
    from framework.verify import verify

    text = """
  r1 = 0
  if r1 != 0 goto bad
  r0 = 0
  exit
bad:
  r1 = 7
  call bpf_throw
  exit
"""
    program = _asm(tmp_path, text)
    analysis = verify(program, log_level=0)
    assert analysis.accepted and analysis.throws_reached == frozenset()
    assert [p.pc for p in throw_points(program)] == [5]  # the control flow reaches it
    assert throw_points(program, analysis.throws_reached) == ()
    assert main(["exec", str(tmp_path / "p.s"), "--force-throw", "all", "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert runs[-1] == {"throw_pc": 5, "dead": True} and not runs[0]["threw"]
    # the JIT runs what the fixup stage left, and it removed the throw: forcing it anyway is an error, not a quiet run
    (point,) = throw_points(program)
    with pytest.raises(InputError, match="throw at pc 5 is code no verifier path reached"):
        run_program(program, engine="jit", force=Force(point, 1))


STOCK_ACCEPTED = [
    e for m in manifests() for e in corpus_entries(m) if e.spec["expect"]["stock"]["verdict"] == "accepted"
]


@pytest.mark.parametrize("entry", STOCK_ACCEPTED, ids=lambda e: e.program.name)
def test_forced_throws_agree_on_both_engines(entry: CorpusEntry) -> None:
    """The interpreter and the JIT cross-check each other on every forced throw of the corpus."""

    def seen(engine: str) -> list[tuple[object, ...]]:
        runs = exercise(
            entry.program, "stock", None, entry.inputs, engine=engine, timeout_s=entry.time_limit_s or TIMEOUT_S
        )
        # an input the manifest marks `timeout` is stopped where each engine got to: only that it stopped compares
        stopped = [r for r in runs if r.throw_pc is None and r.result.input in entry.timeout_inputs]
        assert all(r.verdict == "timeout" for r in stopped), [r.result.fault for r in stopped]
        return [
            (r.result.input, r.throw_pc, r.result.threw, r.result.cookie, r.result.retval, r.guard_reaches, r.problems)
            for r in runs
            if r not in stopped
        ] + [(r.result.input, "timeout") for r in stopped]

    if entry.unsupported is not None:  # the machine stops where the manifest says; the interpreter runs clean
        jit = exercise(entry.program, "stock", None, entry.inputs, engine="jit")
        assert all(r.verdict == "unsupported" and entry.unsupported in str(r.result.fault) for r in jit)
        assert [r.problems for r in exercise(entry.program, "stock", None, entry.inputs, engine="interp")] == [
            () for _ in jit
        ]
        return
    assert seen("interp") == seen("jit")
