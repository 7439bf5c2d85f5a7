"""The conformance kit: what any strategy must hold to on the corpus, for its own test suite.

A strategy's suite runs it as a pytest plugin, one test per corpus program: a test module of
the suite imports the kit's test,

    from framework.kit import test_bakeoff_conformance  # noqa: F401

and `pytest -p framework.kit --bakeoff-strategy NAME` runs it for each program. Each (program,
strategy) is measured as `bakeoff run` measures it, every input and every forced throwing point
beside the interpreter's reference run. A program passes when:
- a refusal says why (the verifier's message), as every rejection of Linux's does;
- an accepted program's runs all agree with their references (return value, whether and what
  it threw, every resource acquired released exactly once, nothing used after its release),
  apart from the timeouts its manifest declares;
- no run leaked, released twice or faulted (the bake-off's problems column is empty).
`conformance_problems` gives the same answer to a caller that is not pytest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from framework.load.corpus import CorpusEntry, corpus_entries, manifests
from framework.pipeline import measure
from framework.plugins import get_strategy
from framework.run.result import TIMEOUT_S

if TYPE_CHECKING:
    import pytest

__all__ = ["conformance_problems", "corpus", "pytest_addoption", "pytest_generate_tests"]


def corpus() -> list[CorpusEntry]:
    """Every program of the corpus manifests, in their order."""
    return [e for m in manifests() for e in corpus_entries(m)]


def conformance_problems(strategy_name: str, entry: CorpusEntry) -> tuple[str, list[str]]:
    """(verdict, what breaks the invariants) of `entry` under the registered strategy."""
    costs = measure(
        entry.program, get_strategy(strategy_name), entry.inputs, hits=entry.force_hits,
        timeout_s=entry.time_limit_s or TIMEOUT_S, expected_timeouts=entry.timeout_inputs,
        unsupported=entry.unsupported,
    )  # fmt: skip
    verdict = costs.verdict
    out: list[str] = []
    if verdict == "rejected" and not costs.message:
        out.append("refused without a message")
    if verdict == "error":
        out.append(costs.message or "the strategy raised")
    declared = tuple(f"{i}, throw pc None:" for i in entry.timeout_inputs)  # the manifest's expected timeouts
    out += [p for p in costs.problems if not p.startswith(declared)]
    out += [f"{r.input}, throw pc {r.throw_pc}: {r.verdict}" for r in costs.runs if not r.agrees and not r.expected]
    if verdict == "timeout" and all(r.agrees or r.expected for r in costs.runs):
        verdict = "accepted"  # only the timeouts the manifest declares
    return verdict, sorted(set(out))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--bakeoff-strategy", action="append", default=[], metavar="NAME",
        help="hold this registered strategy to the bake-off's conformance kit (framework.kit)",
    )  # fmt: skip


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "bakeoff_case" not in metafunc.fixturenames:
        return
    names = metafunc.config.getoption("--bakeoff-strategy")
    cases = [(n, e) for n in names for e in corpus()]
    metafunc.parametrize("bakeoff_case", cases, ids=[f"{n}/{e.program.name}" for n, e in cases])


def test_bakeoff_conformance(bakeoff_case: tuple[str, CorpusEntry]) -> None:
    """One corpus program under one strategy: the kit's invariants."""
    name, entry = bakeoff_case
    _, problems = conformance_problems(name, entry)
    assert problems == [], f"{name} on {entry.program.name}: {problems}"
