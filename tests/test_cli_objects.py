"""Objects as they come: many programs verified one line each, a failing program failing alone,
an object without programs a one-line error (issue 17 item 3)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from framework.cli import EXIT_BAD_INPUT, EXIT_OK, EXIT_REJECTED, EXIT_UNSUPPORTED, main

THREE = """
#define SEC(name) __attribute__((section(name), used))
#define EXC(cb) __attribute__((btf_decl_tag("exception_callback:" #cb)))
extern int bpf_made_up(int x) __attribute__((section(".ksyms")));
__attribute__((noinline)) int cb(unsigned long long cookie) { return 1; }
__attribute__((noinline)) int cb2(unsigned long long cookie) { return 2; }
SEC("tc") int calls_made_up(void *ctx) { return bpf_made_up(3); }
SEC("?tc") EXC(cb) EXC(cb2) int two_tags(void *ctx) { return 0; }
SEC("?tc") int fine(void *ctx) { return 0; }
SEC("tc") int reads_r2(void *ctx) { int r; asm volatile("r0 = r2" : "=r"(r)); return r; }
"""


def _build(tmp_path: Path, source: str, stem: str) -> str:
    clang = shutil.which("clang-19")
    if clang is None:
        pytest.skip("clang-19 is not installed (apt-get install clang-19)")
    src, out = tmp_path / f"{stem}.bpf.c", tmp_path / f"{stem}.o"
    src.write_text(source)
    subprocess.run([clang, "-target", "bpf", "-O2", "-g", "-c", str(src), "-o", str(out)], check=True)
    return str(out)


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_verify_without_program_verifies_each_one_line_each(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    obj = _build(tmp_path, THREE, "three")
    code, out, err = _run(["verify", obj], capsys)
    lines = out.splitlines()
    assert len(lines) == 4, out
    names = ("calls_made_up", "two_tags", "fine", "reads_r2")
    by_name = {name: next(line for line in lines if f"{name}: " in line) for name in names}
    assert "accepted by the verifier under stock" in by_name["fine"]
    assert "bad input" in by_name["two_tags"] and "multiple exception callback tags" in by_name["two_tags"]
    assert "unsupported" in by_name["calls_made_up"] and "bpf_made_up" in by_name["calls_made_up"]
    assert "rejected: R2 !read_ok" in by_name["reads_r2"]
    assert code == EXIT_UNSUPPORTED and err == ""  # the highest of 0, 1, 2 and 3

    code, out, _ = _run(["verify", obj, "--json"], capsys)
    rows = {r["program"]: r for r in json.loads(out)}
    assert {n: r["verdict"] for n, r in rows.items()} == {
        "calls_made_up": "unsupported",
        "two_tags": None,
        "fine": "accepted",
        "reads_r2": "rejected",
    }
    assert rows["calls_made_up"]["missing"]["name"] == "bpf_made_up"


def test_one_program_of_many(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    obj = _build(tmp_path, THREE, "three")
    assert _run(["verify", obj, "--program", "fine"], capsys)[0] == EXIT_OK
    assert _run(["verify", obj, "--program", "reads_r2"], capsys)[0] == EXIT_REJECTED
    code, _, err = _run(["verify", obj, "--program", "two_tags"], capsys)
    assert code == EXIT_BAD_INPUT and err.count("\n") == 1
    assert err.startswith(f"bakeoff: error: {obj}:?tc:0x0: prog 'two_tags': multiple exception callback tags")


def test_an_object_without_programs_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    obj = _build(tmp_path, "int counter = 1;\nstatic int unused(void) { return counter; }\n", "none")
    for command in (["verify", obj], ["exec", obj], ["disasm", obj, "--loaded"], ["disasm", obj, "--program", "p"]):
        code, out, err = _run(command, capsys)
        assert code == EXIT_BAD_INPUT and out == "", (command, out)
        assert err == f"bakeoff: error: {obj}: holds no BPF programs " + (
            "(no non-static function in a section libbpf loads as one)\n"
        ), command


@pytest.mark.parametrize("engine", ["interp", "jit"])
def test_an_endless_loop_run_unverified_stops_at_its_time_limit(
    engine: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if engine == "jit" and shutil.which("gcc") is None:
        pytest.skip("gcc builds the JIT run's runtime (apt-get install gcc)")
    spin = tmp_path / "spin.s"
    spin.write_text("# program: spin\n# section: tc\n    r0 = 0\nl:\n    goto l\n    exit\n")
    argv = ["exec", str(spin), "--no-verify", "--engine", engine, "--time-limit", "0.3", "--json"]
    code, out, _ = _run(argv, capsys)
    run = json.loads(out)
    assert code == EXIT_REJECTED and run["verdict"] == "timeout" and run["timed_out"] is True
    assert run["retval"] is None and "time limit of 0.3 s" in run["fault"]


def test_a_time_limit_is_a_positive_number(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spin = tmp_path / "spin.s"
    spin.write_text("# program: spin\n# section: tc\n    r0 = 0\n    exit\n")
    with pytest.raises(SystemExit) as stop:
        main(["exec", str(spin), "--time-limit", "0"])
    assert stop.value.code == EXIT_BAD_INPUT
    assert "--time-limit: must be more than 0" in capsys.readouterr().err
