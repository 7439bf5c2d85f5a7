"""Without the tools a runtime build runs (gcc, binutils), a command that builds one says so at once.

Each runs `bakeoff` in a subprocess whose PATH holds no gcc (or gcc alone): one line on
stderr naming what is missing, why and how to install it, exit status 2, nothing on stdout.
What builds no runtime (verify, disasm, the interpreter, conformance) still works there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from framework.runtime.build import compiler_missing

ROOT = Path(__file__).resolve().parents[1]
OBJ = ROOT / "programs" / "obj"
PROG = str(OBJ / "throw_bounds_cb.o")
NO_GCC = (
    "bakeoff: error: gcc not found: the strategies' runtimes are C compiled with gcc; install it (apt-get install gcc)"
)


def bakeoff(argv: list[str], path: Path) -> subprocess.CompletedProcess[str]:
    """`bakeoff ARGV` with PATH set to `path` only (the interpreter is named by its full path)."""
    env = os.environ | {"PATH": str(path)}
    cmd = [sys.executable, "-m", "framework.cli", *argv]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)


# ---------------------------------------------------------------- gcc and binutils


def test_nothing_is_missing_here() -> None:
    assert compiler_missing() is None  # the tests run where the runtimes can be built


def test_missing_gcc_is_named_with_why_and_how(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert compiler_missing() == NO_GCC.removeprefix("bakeoff: error: ")


def test_gcc_without_binutils_names_binutils(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gcc = shutil.which("gcc")
    assert gcc is not None
    (tmp_path / "gcc").symlink_to(gcc)
    monkeypatch.setenv("PATH", str(tmp_path))
    missing = compiler_missing()
    assert missing is not None and missing.startswith("ld not found: ")
    assert missing.endswith("install it (apt-get install binutils)")


NEEDS_GCC = [
    pytest.param(["run"], id="run"),
    pytest.param(["run", str(OBJ / "basic_throw.o"), "--json", "--jobs", "2"], id="run-jobs"),
    pytest.param(["exec", PROG], id="exec-jit"),
    pytest.param(["exec", PROG, "--no-verify", "--force-throw", "all"], id="exec-jit-no-verify"),
    pytest.param(["exec", PROG, "--engine", "interp"], id="exec-interp-verified"),  # reports the JIT's bytes
    pytest.param(["disasm", PROG, "--x86"], id="disasm-x86"),
]


@pytest.mark.parametrize("argv", NEEDS_GCC)
def test_without_gcc_a_command_that_builds_a_runtime_says_so_at_once(argv: list[str], tmp_path: Path) -> None:
    done = bakeoff(argv, tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [NO_GCC], done.stderr
    assert done.stdout == ""


def test_without_binutils_the_line_names_binutils(tmp_path: Path) -> None:
    gcc = shutil.which("gcc")
    assert gcc is not None
    (tmp_path / "gcc").symlink_to(gcc)
    done = bakeoff(["run", str(OBJ / "basic_throw.o")], tmp_path)
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith("bakeoff: error: ld not found: ") and line.endswith("(apt-get install binutils)")


NO_GCC_NEEDED = [
    pytest.param(["verify", PROG], id="verify"),
    pytest.param(["disasm", PROG], id="disasm"),
    pytest.param(["exec", PROG, "--engine", "interp", "--no-verify"], id="exec-interp"),
    pytest.param(["strategies"], id="strategies"),
]


@pytest.mark.parametrize("argv", NO_GCC_NEEDED)
def test_without_gcc_what_builds_no_runtime_still_works(argv: list[str], tmp_path: Path) -> None:
    done = bakeoff(argv, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_without_gcc_conformance_runs_on_the_jit(tmp_path: Path) -> None:
    """The suite's cases never throw: the JIT runs them without a runtime."""
    (tmp_path / "one.data").write_text("-- asm\nmov %r0, 7\nexit\n-- result\n0x7\n")
    done = bakeoff(["conformance", str(tmp_path / "one.data"), "--engine", "jit"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "jit: 1 passed, 0 failed"
