"""A run that reaches what the emulated kernel does not model is `unsupported` (exit 3), naming
it, on both engines: not a fault of the program (exit 1) and not a figure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from verify.cases_loader import NoCompiler, load_cases

from framework.cli import main
from framework.kernel.objects import RunInput
from framework.load.asm import load_asm
from framework.run.result import run_program

# bpf_getsockopt from a sock_ops program whose context (all zero: op BPF_SOCK_OPS_VOID) would reach
# the socket the emulated context lacks
GETSOCKOPT = """\
# program: needs_socket
# section: sockops
needs_socket:
  r2 = 6
  r3 = 13
  r4 = r10
  r4 += -16
  r5 = 16
  call 57
  r0 = 1
  exit
"""


@pytest.fixture
def program_file(tmp_path: Path) -> Path:
    path = tmp_path / "needs_socket.s"
    path.write_text(GETSOCKOPT)
    return path


@pytest.mark.parametrize("engine", ["interp", "jit"])
def test_a_service_not_emulated_makes_the_run_unsupported(program_file: Path, engine: str) -> None:
    (program,) = load_asm(program_file)
    result = run_program(program, RunInput(), engine=engine)
    assert result.unsupported and result.fault is not None and "is not emulated" in result.fault
    other = run_program(program, RunInput(ctx=(16).to_bytes(4, "little") + bytes(220)), engine=engine)
    assert not other.unsupported and other.fault is None  # op 16: -EOPNOTSUPP, which is emulated


@pytest.mark.parametrize("engine", ["interp", "jit"])
def test_exec_says_unsupported_with_exit_3(program_file: Path, engine: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["exec", str(program_file), "--engine", engine, "--json"]) == 3
    run = json.loads(capsys.readouterr().out)
    assert run["verdict"] == "unsupported" and run["unsupported"] is True
    assert "bpf_getsockopt" in run["fault"] and "not emulated" in run["fault"]


LWT_IN = """\
# program: lwt
# section: lwt_in
lwt:
  r0 = *(u32 *)(r1 + 0)
  exit
"""


@pytest.mark.parametrize("engine", ["interp", "jit"])
def test_a_test_run_context_not_built_makes_the_run_unsupported(engine: str, tmp_path: Path) -> None:
    # bpf_prog_test_run_skb runs an lwt program on an skb past its Ethernet header with lwt's own
    # access conversions; the emulated kernel builds tc's, socket filters', cgroup skb's and XDP's
    # contexts only, so the run says so instead of giving a number
    path = tmp_path / "lwt.s"
    path.write_text(LWT_IN)
    (program,) = load_asm(path)
    result = run_program(program, RunInput("pkt", bytes(64)), engine=engine)
    assert result.unsupported and result.fault is not None and "lwt_in test run" in result.fault


@pytest.mark.parametrize("engine", ["interp", "jit"])
def test_a_socket_filter_from_the_linux_samples_runs(engine: str) -> None:
    # once unsupported (its context was not built): bpf_prog_test_run_skb's non-L2 skb now is
    from framework.load.elf import load_object

    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "linux_samples"
    (program,) = load_object(fixtures / "sockex2_kern.o")
    result = run_program(program, RunInput("pkt", bytes(64)), engine=engine)
    assert not result.unsupported and result.fault is None, result.fault


@pytest.mark.parametrize("engine", ["interp", "jit"])
def test_a_read_of_what_bpf_obj_new_left_unwritten_is_unsupported(engine: str) -> None:
    # kernel: bpf_obj_new_impl's memory comes from bpf_mem_alloc, not cleared; only bpf_obj_init's
    # special fields are set, so the kernel's value for any other unwritten byte is an earlier object's
    cases = {c.name: c for c in load_cases("kptr")}
    try:
        unwritten, written = cases["obj_new_read_unwritten"].program(), cases["obj_new_read_written"].program()
    except NoCompiler as exc:
        pytest.skip(str(exc))
    result = run_program(unwritten, RunInput(), engine=engine)
    assert result.unsupported and result.fault is not None
    assert "offset 8 of obj" in result.fault and "nothing wrote, is not emulated" in result.fault
    fine = run_program(written, RunInput(), engine=engine)
    assert not fine.unsupported and fine.fault is None and fine.r0 == 3
