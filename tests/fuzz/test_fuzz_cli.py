"""`bakeoff verify`, `disasm` and `exec` on random and damaged assembly: never exit status 4, no line over 300.

The runs are bounded: `exec` is given a small instruction and time budget (what the bake-off's
timeout does, smaller), so a program that loops ends with the verdict `timeout`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from framework.cli import EXIT_BAD_INPUT

from .fuzzing import budget, run_cli
from .test_fuzz_decode_asm import EVERY_OPCODE, HEADERS

BODY = [
    "r0 = 0", "exit", "goto -1", "r1 = 1", "r0 += r1", "if r1 > 3 goto +1", "r2 = *(u64 *)(r1 + 0)",
    "*(u64 *)(r10 - 8) = r1", "r1 = *(u64 *)(r10 - 8)", "call bpf_throw", "call 1", "r1 = m ll", "r0 /= r1",
    "w0 = w1", "r2 = r10", "r2 += -8", "call cb", "cb:", "r0 = *(u32 *)(r1 + 0)", "r0 = -1",
    "lock *(u64 *)(r10 - 8) += r1",
]  # fmt: skip


@contextmanager
def _file(text: str) -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.s"
        path.write_text(text)
        yield str(path)


@pytest.fixture(autouse=True)
def _small_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    import framework.run.result as result

    monkeypatch.setattr(result, "TIMEOUT_S", 0.5)  # exec's default limit (framework.cli.inputs.time_limit)


_line = st.one_of(st.sampled_from(BODY), st.sampled_from(HEADERS), st.sampled_from(EVERY_OPCODE))
_lines = st.lists(_line, max_size=14)
BIG_MAP = "# map: name=m type=array key=4 value=4294967296 max_entries=1"


@given(_lines, st.sampled_from(["verify", "disasm", "exec"]))
@example(["# section: tc"], "verify")  # no instruction: refused at load, as bpf_prog_load refuses insn_cnt 0
@example(["# section: tc"], "exec")
@example(["# section: tc", BIG_MAP, "r1 = m ll", "r0 = 0", "exit"], "exec")  # a 4 GiB value: refused at load
@example(["# section: tc", "r0 = " + "y" * 4000], "verify")  # the quoted line is clipped
@example(["# section: tc", "r0 = 0", "goto -1", "exit"], "exec")  # runs into the time budget: verdict timeout
@budget(60)
def test_cli_never_fails_internally(lines: list[str], command: str) -> None:
    text = "\n".join(["# section: tc", "# kfunc: bpf_throw", *lines]) + "\n"
    argv = [command] + (["--engine", "interp", "--no-verify"] if command == "exec" else [])
    with _file(text) as path:
        run_cli([*argv, path])


def test_empty_program_is_bad_input() -> None:
    with _file("# section: tc\n# program: nothing\n") as path:
        status, err = run_cli(["verify", path])
    assert status == EXIT_BAD_INPUT and "program 'nothing' has no instructions" in err, err


@pytest.mark.parametrize(
    ("map_line", "reason"),
    [
        ("type=array key=4 value=4294967296 max_entries=1", "value_size 4294967296 does not fit bpf_attr's __u32"),
        ("type=array key=4 value=2147483648 max_entries=1", "value_size 2147483648 > INT_MAX: E2BIG"),
        ("type=array key=8 value=8 max_entries=1", "an array map needs key_size 4"),
        ("type=hash key=4 value=4194304 max_entries=1", "is too big for an element: E2BIG"),
        ("type=hash key=0 value=8 max_entries=1", "a hash map needs key_size, value_size and max_entries > 0"),
        ("type=ringbuf key=0 value=0 max_entries=4095", "a ring buffer needs key and value size 0"),
        ("type=array key=4 value=65536 max_entries=65536", "more than the emulated kernel holds (ENOMEM)"),
    ],
)
def test_map_the_kernel_would_not_create_is_bad_input(map_line: str, reason: str) -> None:
    with _file(f"# section: tc\n# map: name=m {map_line}\nr1 = m ll\nr0 = 0\nexit\n") as path:
        status, err = run_cli(["exec", "--engine", "interp", path])
    assert status == EXIT_BAD_INPUT and "map 'm': " in err and reason in err, err


def test_over_long_line_is_clipped() -> None:
    with _file("# section: tc\nr0 = " + "z" * 5000 + "\nexit\n") as path:
        status, err = run_cli(["verify", path])
    assert status == EXIT_BAD_INPUT and err.rstrip().endswith("...") and "zzz" in err, err


@pytest.mark.parametrize("engine", ["interp", "jit"])
def test_no_verify_loop_stops_with_timeout(engine: str) -> None:
    if engine == "jit":
        from framework.runtime.build import compiler_missing

        if compiler_missing() is not None:
            pytest.skip("gcc is not installed")
    with _file("# section: tc\nr0 = 0\ngoto -1\nexit\n") as path:
        status, _ = run_cli(["exec", "--engine", engine, "--no-verify", "--json", path])
    assert status == 1
