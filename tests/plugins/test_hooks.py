"""The plugin kit's contract: every hook (the plugin manager's, and each stage method of the
strategy protocol) is documented argument by argument, says its firstresult rule where pluggy
calls it, and has a test that names it."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from framework import hookspecs
from framework.strategy import Strategy
from framework.tracing import STAGES

TESTS = Path(__file__).resolve().parents[1]
SPECS = [f for n, f in vars(hookspecs).items() if callable(f) and hasattr(f, f"{hookspecs.PROJECT}_spec")]
METHODS = [getattr(Strategy, n) for n in STAGES]


def _params(func: object) -> list[str]:
    return [p for p in inspect.signature(func).parameters if p != "self"]  # type: ignore[arg-type]


@pytest.mark.parametrize("hook", SPECS + METHODS, ids=lambda f: f.__name__)
def test_every_argument_is_documented(hook: object) -> None:
    doc = inspect.getdoc(hook) or ""
    assert doc, f"{hook.__name__} has no docstring"  # type: ignore[attr-defined]
    missing = [p for p in _params(hook) if f":param {p}:" not in doc]
    assert missing == [], f"{hook.__name__}: document {missing}"  # type: ignore[attr-defined]
    returns = inspect.signature(hook).return_annotation  # type: ignore[arg-type]
    if returns not in ("None", None) and not hook.__name__.startswith("on_"):  # type: ignore[attr-defined]
        assert ":returns:" in doc, f"{hook.__name__} returns {returns}: say what"  # type: ignore[attr-defined]


@pytest.mark.parametrize("spec", SPECS, ids=lambda f: f.__name__)
def test_every_hookspec_says_its_firstresult_rule(spec: object) -> None:
    options = getattr(spec, f"{hookspecs.PROJECT}_spec")
    doc = " ".join((inspect.getdoc(spec) or "").split())
    said = "Not firstresult" if not options.get("firstresult") else "firstresult:"
    assert said in doc


@pytest.mark.parametrize("hook", SPECS + METHODS, ids=lambda f: f.__name__)
def test_every_hook_has_a_test(hook: object) -> None:
    name = hook.__name__  # type: ignore[attr-defined]
    here = Path(__file__).resolve()
    users = [p for p in TESTS.rglob("*.py") if p.resolve() != here and name in p.read_text()]
    assert users, f"no test names {name}"
