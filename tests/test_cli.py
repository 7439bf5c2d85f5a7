"""The command line as a user runs it: output, JSON keys, exit statuses, and bad input."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from framework import cli
from framework.cli import inputs, main, outcomes

ROOT = Path(__file__).resolve().parents[1]
OBJ = ROOT / "programs" / "obj"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_error_line(code: int, err: str, path: str, where: str | None = None) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"bakeoff: error: {path}:"), lines[0]
    assert "Traceback" not in err
    if where is not None:
        assert where in lines[0], lines[0]


def test_disasm_lists_functions_line_info_and_kfuncs(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["disasm", str(OBJ / "throw_bounds_cb.o"), "--loaded"], capsys)
    assert code == 0, err
    assert "<bounds_check>: (global)" in out
    assert "<bounds_error>: (global, exception callback)" in out
    assert "call 0x0 <bpf_throw>" in out
    assert "; bpf_throw(ERR_TRUNCATED);" in out


def test_disasm_selects_one_program(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["disasm", str(OBJ / "basic_throw.o"), "--program", "throw_static"], capsys)
    assert code == 0
    assert "program throw_static" in out
    assert "program throw_no_cb" not in out


def test_disasm_unknown_program_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(OBJ / "basic_throw.o")
    code, _, err = run(["disasm", path, "--program", "nope"], capsys)
    assert_one_error_line(code, err, path, "no program named 'nope'")


def test_strategies_json_keys(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["strategies", "--json"], capsys)
    assert code == 0
    rows = json.loads(out)
    assert {"name", "version", "summary", "origin"} == set(rows[0])
    assert any(r["name"] == "stock" and r["origin"] == "built-in" for r in rows)


def test_run_writes_listings_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["run", str(OBJ / "basic_throw.o"), "--out", str(tmp_path), "--json"], capsys)
    assert code == 0, err
    result = json.loads(out)
    assert {r["program"] for r in result["rows"]} == {"throw_no_cb", "throw_static", "assert_range"}
    details = json.loads((tmp_path / "programs.json").read_text())  # one per (program, strategy), every field
    assert {(d["program"], d["strategy"]) for d in details} == {(r["program"], r["strategy"]) for r in result["rows"]}
    assert {p.name for p in tmp_path.iterdir()} >= {"report.txt", "report.md", "results.csv", "result.json"}
    listing = tmp_path / "listings" / "stock" / "basic_throw.throw_static.txt"
    assert "<throw_static>" in listing.read_text()


def test_run_is_a_bake_off_of_every_strategy(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["run", str(OBJ / "merge_two_types.o"), "--json"], capsys)
    assert code == 0, err
    rows = {}
    for r in json.loads(out)["rows"]:  # the per-program columns are the same in each of its cases
        rows.setdefault((r["program"], r["strategy"]), r)
    assert {s for _, s in rows} == {
        "stock",
        "frame-descriptors",
        "resource-table",
        "hybrid-spill",
        "landing-pads",
        "resource-table-inline",
    }
    two = {s: rows["two_kinds", s] for s in ("stock", "frame-descriptors", "hybrid-spill", "resource-table")}
    assert two["stock"]["verdict"] == "rejected" and two["stock"]["metadata_bytes"] is None
    assert two["frame-descriptors"]["reason"].startswith("frame_desc: merge")
    assert two["hybrid-spill"]["verdict"] == "accepted" and two["hybrid-spill"]["extra_stack_bytes"] > 0
    assert two["resource-table"]["extra_stack_bytes"] == 16 and two["resource-table"]["code_growth_insns"] > 0
    assert two["hybrid-spill"]["code_growth_insns"] > 0 and two["frame-descriptors"]["code_growth_insns"] is None


def test_default_run_covers_the_whole_corpus(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["run", "--json"], capsys)
    assert code == 0
    objects = {Path(r["object"]).name for r in json.loads(out)["rows"]}
    assert objects == {p.name for p in OBJ.glob("*.o")}


# ---------------------------------------------------------------- bad input


def test_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = str(tmp_path / "nothing.o")
    code, _, err = run(["disasm", path], capsys)
    assert_one_error_line(code, err, path)


def test_truncated_elf(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "cut.o"
    path.write_bytes((OBJ / "basic_throw.o").read_bytes()[:200])
    code, _, err = run(["disasm", str(path)], capsys)
    assert_one_error_line(code, err, str(path))


def test_non_bpf_elf(capsys: pytest.CaptureFixture[str]) -> None:
    true = shutil.which("true") or "/bin/true"
    code, _, err = run(["disasm", true], capsys)
    assert_one_error_line(code, err, true)


def _text_section_offset(data: bytes, name: bytes) -> int:
    """File offset of a section's bytes, read straight from the ELF64 headers."""
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    strtab_off = struct.unpack_from("<Q", data, shoff + shstrndx * shentsize + 0x18)[0]
    for i in range(shnum):
        hdr = shoff + i * shentsize
        name_off = struct.unpack_from("<I", data, hdr)[0]
        end = data.index(b"\0", strtab_off + name_off)
        if data[strtab_off + name_off : end] == name:
            return int(struct.unpack_from("<Q", data, hdr + 0x18)[0])
    raise AssertionError(name)


def test_unknown_opcode_names_section_and_offset(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = bytearray((OBJ / "basic_throw.o").read_bytes())
    at = _text_section_offset(bytes(data), b"tc")
    data[at + 8] = 0x01  # class LD, mode IMM, size W: not an instruction
    path = tmp_path / "bad_opcode.o"
    path.write_bytes(bytes(data))
    code, _, err = run(["disasm", str(path), "--loaded"], capsys)
    assert_one_error_line(code, err, str(path), f"{path}:tc:0x8")
    assert "unknown opcode 0x01" in err
    code, out, err = run(["disasm", str(path)], capsys)  # the object as llvm-objdump prints it
    assert code == 0 and err == "", err
    assert "       1:\t01 " in out and out.count("<unknown>") == 1, out


def test_garbage_assembly_names_the_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "bad.s"
    path.write_text("# program: p\n# section: tc\np:\n\tr0 = 0\n\tr0 +== r1\n\texit\n")
    code, _, err = run(["disasm", str(path)], capsys)
    assert_one_error_line(code, err, str(path), f"{path}:5")


def test_unknown_kfunc_in_assembly(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "kf.s"
    path.write_text("# program: p\n# section: tc\n# kfunc: bpf_no_such_thing\np:\n\tcall bpf_no_such_thing\n\texit\n")
    code, _, err = run(["disasm", str(path)], capsys)
    assert_one_error_line(code, err, str(path), "bpf_no_such_thing")


def test_internal_error_is_one_line_exit_4_with_its_traceback_in_a_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(program: object, **options: object) -> str:
        raise RuntimeError("a bug " + "x" * 5000)

    monkeypatch.setattr("framework.listing.listing", broken)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)  # re-read TMPDIR
    code, _, err = run(["disasm", str(OBJ / "basic_throw.o"), "--loaded"], capsys)
    assert code == cli.EXIT_INTERNAL == 4
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("bakeoff: internal error: RuntimeError: a bug xxx"), lines[0]
    assert "x" * outcomes.EXCERPT not in lines[0] and "x..." in lines[0], lines[0]  # the text is clipped
    assert "at test_cli.py:" in lines[0], lines[0]  # where it was raised
    written = list(tmp_path.glob("bakeoff-traceback-*.txt"))
    assert len(written) == 1 and str(written[0]) in lines[0], (written, lines[0])
    kept = written[0].read_text()
    assert kept.startswith("Traceback") and "RuntimeError: a bug " + "x" * 5000 in kept


def test_what_the_project_does_not_model_is_exit_3_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ecn.s"  # bpf_skb_ecn_set_ce (#97): tc may call it; the project has no model of it
    path.write_text("# program: p\n# type: sched_cls\n# section: tc\np:\n\tcall 97\n\tr0 = 0\n\texit\n")
    code, out, _ = run(["verify", str(path), "--log-level", "0"], capsys)
    assert code == cli.EXIT_UNSUPPORTED == 3
    assert out.strip().endswith("p: unsupported: helper bpf_skb_ecn_set_ce#97 is not modelled: " + cli_needs()), out
    code, out, _ = run(["verify", str(path), "--json"], capsys)
    got = json.loads(out)
    assert code == 3 and got["verdict"] == "unsupported"
    assert got["missing"] == {"kind": "helper", "name": "bpf_skb_ecn_set_ce#97", "needs": cli_needs()}
    code, _, err = run(["exec", str(path), "--engine", "interp"], capsys)
    assert code == 3 and "p: unsupported under stock: helper bpf_skb_ecn_set_ce#97" in err, err
    assert "3  unsupported" in cli.build_parser().format_help()  # --help lists the statuses


def cli_needs() -> str:
    return "its bpf_func_proto in the helper table and its semantics"


def test_an_internal_error_under_json_is_the_verdict_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*_: object, **__: object) -> object:
        raise RuntimeError("a bug")

    monkeypatch.setattr("framework.pipeline.prepared_and_verified", broken)  # the driver's verify stage
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    path = tmp_path / "p.s"
    path.write_text("# program: p\n# section: tc\np:\n\tr0 = 0\n\texit\n")
    code, out, err = run(["verify", str(path), "--json"], capsys)
    assert code == cli.EXIT_INTERNAL
    got = json.loads(out)
    assert got["verdict"] == "error" and got["message"].startswith("internal error: RuntimeError: a bug at ")
    assert err.startswith("bakeoff: internal error: RuntimeError: a bug") and len(err.splitlines()) == 1


# ---------------------------------------------------------------- property: mutated input


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_objects_load_or_fail_in_one_line(
    data: st.DataObject, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    objects = sorted(OBJ.glob("*.o"))
    source = data.draw(st.sampled_from(objects), label="object")
    blob = bytearray(source.read_bytes())
    how = data.draw(st.sampled_from(["flip", "truncate", "splice"]), label="mutation")
    if how == "flip":
        for _ in range(data.draw(st.integers(1, 8))):
            at = data.draw(st.integers(0, len(blob) - 1))
            blob[at] = data.draw(st.integers(0, 255))
    elif how == "truncate":
        del blob[data.draw(st.integers(0, len(blob) - 1)) :]
    else:
        at = data.draw(st.integers(0, len(blob) - 1))
        blob[at:at] = data.draw(st.binary(min_size=1, max_size=32))
    path = tmp_path / "mutant.o"
    path.write_bytes(bytes(blob))
    code, _, err = run(["disasm", str(path)], capsys)
    if code != 0:
        assert_one_error_line(code, err, str(path))


ASM = """# program: p
# section: tc
p:
\tr1 = 1
\tif r1 > 2 goto out
\tr0 = *(u32 *)(r10 - 4)
\tlock *(u64 *)(r10 - 8) += r1
out:
\tr0 = 0
\texit
"""


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_assembly_loads_or_fails_at_a_line(
    data: st.DataObject, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = list(ASM)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text) - 1))
        text[at] = data.draw(st.sampled_from([*list("r0123456789+-*/=<>()[]:#x lwgotif\t\n"), "", "ll", "0x"]))
    path = tmp_path / "mutant.s"
    path.write_text("".join(text))
    code, _, err = run(["disasm", str(path)], capsys)
    if code != 0:
        assert_one_error_line(code, err, str(path))


def test_corpus_is_found_from_the_package() -> None:
    assert inputs.corpus_objects(), "programs/obj is empty"


def test_kernel_check_json_keys(capsys: pytest.CaptureFixture[str]) -> None:
    from framework.oracle.check import available

    reason = available()
    if reason is not None:
        pytest.skip(reason)
    code, out, err = run(["kernel-check", str(OBJ / "throw_bounds_cb.o"), "--json"], capsys)
    assert code == 0, err
    (row,) = json.loads(out)
    assert list(row) == [
        "program",
        "verdict",
        "message",
        "stack_depth",
        "insns_processed",
        "verification_usec",
        "bytes_jited",
        "retval",
        "ns",
        "kernel",
    ]
    assert row["program"] == "bounds_check" and row["verdict"] == "accepted"
    assert row["retval"] == 2  # the exception callback maps the truncated packet's cookie to TC_ACT_SHOT


def test_kernel_check_data_in(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from framework.oracle.check import available

    reason = available()
    if reason is not None:
        pytest.skip(reason)
    packet = tmp_path / "big.bin"
    packet.write_bytes(bytes(64))
    code, out, _ = run(["kernel-check", str(OBJ / "throw_bounds_cb.o"), "--data-in", str(packet), "--json"], capsys)
    assert code == 0
    assert json.loads(out)[0]["retval"] == 0  # long enough: no throw, TC_ACT_OK


@pytest.mark.parametrize("engine", ["interp", "jit"])
def test_conformance_json_on_both_engines(
    engine: str, conformance_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["conformance", str(conformance_dir), "--engine", engine, "--json"], capsys)
    report = json.loads(out)
    assert list(report) == ["engine", "passed", "failed", "cases"]
    assert report["engine"] == engine
    assert (report["passed"], report["failed"]) == (313, 0)
    assert code == 0
    assert set(report["cases"][0]) == {"name", "ok", "expected", "got"}


def test_conformance_failure_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = tmp_path / "wrong.data"
    case.write_text("-- asm\nmov %r0, 1\nexit\n-- result\n0x2\n")
    code, out, _ = run(["conformance", str(case), "--engine", "interp"], capsys)
    assert code == 1
    assert "FAIL wrong" in out and "1 failed" in out


def test_exec_json_keys_and_the_ledger(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(OBJ / "cleanup_three_frames.o")
    code, out, _ = run(
        ["exec", path, "--program", "three_frames", "--no-verify", "--engine", "interp", "--json"], capsys
    )
    result = json.loads(out)
    design_keys = [
        "program",
        "strategy",
        "engine",
        "verdict",
        "retval",
        "threw",
        "cookie",
        "x86_insns",
        "stack_high_water",
        "released_by_unwinder",
        "leaked",
        "double_released",
        "reference_retval",
        "reference_released",
        "agrees",
    ]
    assert list(result)[: len(design_keys)] == design_keys
    assert result["threw"] and result["engine"] == "interp" and result["x86_insns"] is None
    # stock releases nothing at a throw: what three_frames holds is leaked, where the program's
    # meaning (the reference: ideal cleanup) releases both objects; that is a mismatch, exit 1
    assert result["leaked"] and result["released_by_unwinder"] == []
    assert code == 1 and result["verdict"] == "mismatch" and not result["agrees"]
    assert [(r["kind"], r["by_unwinder"]) for r in result["reference_released"]] == [("obj", True), ("obj", True)]
    assert result["reference_retval"] == result["retval"] == 17


def test_exec_data_in(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    packet = tmp_path / "pkt"
    packet.write_bytes(bytes(64))
    path = str(OBJ / "throw_bounds_cb.o")
    code, out, _ = run(["exec", path, "--no-verify", "--data-in", str(packet), "--json"], capsys)
    assert code == 0
    assert json.loads(out)["threw"] is False


def test_exec_runs_only_what_the_verifier_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(OBJ / "merge_null_or_obj.o")
    code, out, err = run(["exec", path, "--program", "null_or_obj"], capsys)
    assert code == 1 and out == ""
    assert "rejected under stock: bpf_throw would lead to reference leak" in err
    code, out, _ = run(["exec", path, "--program", "null_or_obj_clean", "--json"], capsys)
    assert code == 0 and json.loads(out)["program"] == "null_or_obj_clean"


def test_strategies_verify_but_do_not_run_without_their_runtime(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from strategies.resource_table import ResourceTable

    path = str(OBJ / "merge_null_or_obj.o")
    monkeypatch.setattr(ResourceTable, "runtime", None)  # a strategy whose runtime is not built
    argv = ["verify", path, "--program", "null_or_obj", "--strategy", "resource-table", "--json"]
    code, out, _ = run(argv, capsys)
    assert code == 0 and json.loads(out)["verdict"] == "accepted"
    # exec refuses rather than leak on stock's runtime
    code, out, err = run(["exec", path, "--program", "null_or_obj", "--strategy", "resource-table"], capsys)
    assert code == 2 and out == "" and "no throw-time runtime yet" in err


def test_exec_runs_frame_descriptors_on_its_own_runtime(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(OBJ / "cleanup_kinds.o")
    argv = ["exec", path, "--program", "percpu_obj", "--strategy", "frame-descriptors"]
    code, out, _ = run([*argv, "--json"], capsys)
    got = json.loads(out)
    assert code == 0 and got["threw"] and got["leaked"] == []
    assert [r["kind"] for r in got["released_by_unwinder"]] == ["percpu_obj"]
    code, _, err = run([*argv, "--no-verify"], capsys)
    assert code == 2 and "drop --no-verify" in err
    code, _, _ = run([*argv, "--engine", "interp"], capsys)
    assert code == 2


def test_verify_json_and_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(OBJ / "merge_null_or_obj.o")
    code, out, _ = run(["verify", path, "--program", "null_or_obj", "--json"], capsys)
    result = json.loads(out)
    assert code == 1
    assert list(result) == [
        "program",
        "strategy",
        "verdict",
        "message",
        "missing",
        "stack_depth",
        "insns_processed",
        "verification_usec",
    ]
    assert result["verdict"] == "rejected" and result["message"] == "bpf_throw would lead to reference leak"
    assert result["missing"] is None
    code, out, _ = run(["verify", path, "--program", "null_or_obj_clean"], capsys)
    assert code == 0 and "accepted" in out
    code, out, err = run(["verify", path], capsys)  # every program, one line each, as veristat
    lines = out.splitlines()
    assert code == 1 and err == "" and len(lines) == 2, out
    assert "null_or_obj: rejected: bpf_throw would lead to reference leak" in lines[0]
    assert lines[1] == "null_or_obj_clean: accepted by the verifier under stock"


def test_kernel_check_prints_the_kernels_log_on_request(capsys: pytest.CaptureFixture[str]) -> None:
    from framework.oracle.check import available

    reason = available()
    if reason is not None:
        pytest.skip(reason)
    code, out, _ = run(["kernel-check", str(OBJ / "merge_null_or_obj.o"), "--log-level", "2"], capsys)
    assert code == 0
    assert "--- null_or_obj: the kernel's verifier log (level 2)" in out
    assert "bpf_throw would lead to reference leak" in out
    assert "processed " in out and "(limit 1000000)" in out


def test_run_in_parallel_gives_the_same_rows(capsys: pytest.CaptureFixture[str]) -> None:
    _, serial, _ = run(["run", "--json"], capsys)
    code, parallel, _ = run(["run", "--json", "--jobs", "2"], capsys)
    assert code == 0
    assert json.loads(parallel)["rows"] == json.loads(serial)["rows"]  # the provenance's timings differ


def test_a_failing_run_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.s"
    bad.write_text("# program: p\n# section: tc\np:\n\tr0 +== 1\n")
    out = tmp_path / "out"
    code, _, _ = run(["run", str(OBJ / "basic_throw.o"), str(bad), "--out", str(out)], capsys)
    assert code == 2
    assert not out.exists()


def test_disasm_x86_interleaves_the_jit(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["disasm", str(OBJ / "throw_bounds_cb.o"), "--x86"], capsys)
    assert code == 0, err
    assert "push %r12" in out  # main is the exception boundary: every callee-saved register pushed
    assert "mov %rsi,%rsp" in out  # the exception callback takes over the boundary's frame
    assert "call 0x0 <bpf_throw>" in out


@pytest.mark.parametrize("obj", sorted(p.name for p in OBJ.glob("*.o") if p.name != "every_opcode.o"))
def test_disasm_x86_covers_the_corpus(obj: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["disasm", str(OBJ / obj), "--x86"], capsys)
    assert code == 0, err
    assert "; prologue" in out


def test_disasm_x86_of_what_the_jit_cannot_take_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(OBJ / "every_opcode.o")
    code, _, err = run(["disasm", path, "--x86"], capsys)
    assert_one_error_line(code, err, path, "cannot JIT")


def test_exec_runs_on_the_jit_by_default_and_counts_x86(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(OBJ / "throw_bounds_cb.o")
    code, out, _ = run(["exec", path, "--no-verify", "--json"], capsys)
    assert code == 0
    result = json.loads(out)
    assert result["engine"] == "jit" and result["threw"] and result["retval"] == 2
    assert result["x86_insns"] > 0 and result["bpf_insns"] is None
