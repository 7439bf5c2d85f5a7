"""The bpf() wrapper against the running kernel: maps, loads, logs, test runs, info, ids."""

from __future__ import annotations

import errno
import struct

import pytest

from framework.isa.decode import encode
from framework.isa.llvm_asm import assemble
from framework.oracle import bpf_syscall as sys_

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("bpf")]


def _insns(*lines: str) -> bytes:
    return encode(assemble(lines).slots)


def test_map_update_then_freeze_refuses_writes() -> None:
    with sys_.map_create(sys_.MAP_TYPES["array"], 4, 8, 1, name=".rodata") as m:
        sys_.map_update(m, struct.pack("<I", 0), struct.pack("<Q", 5))
        sys_.map_freeze(m)
        with pytest.raises(sys_.BpfError) as info:
            sys_.map_update(m, struct.pack("<I", 0), struct.pack("<Q", 6))
        assert info.value.errno == errno.EPERM
    assert m.closed


def test_accepted_program_runs_and_reports_its_jit() -> None:
    result = sys_.prog_load(
        sys_.ProgLoadAttr(prog_type=sys_.PROG_TYPES["sched_cls"], insns=_insns("r0 = 7", "exit"), log_level=1 | 4)
    )
    assert result.fd is not None and result.errno == 0
    with result.fd as prog:
        assert "processed 2 insns" in result.log
        run = sys_.prog_test_run(prog, bytes(64), repeat=10)
        assert run.retval == 7 and run.duration_ns > 0 and len(run.data_out) == 64
        info = sys_.prog_info(prog)
        assert info.jited_prog_len == len(info.jited_prog_insns) > 0
        assert info.xlated_prog_len == 16 and info.verified_insns == 2
        assert len(info.jited_ksyms) == len(info.jited_func_lens) == 1
        assert info.jited_func_lens[0] == info.jited_prog_len
        assert info.id in sys_.loaded_prog_ids()
    assert info.id not in sys_.loaded_prog_ids()


def test_rejection_gives_errno_and_log() -> None:
    result = sys_.prog_load(
        sys_.ProgLoadAttr(prog_type=sys_.PROG_TYPES["sched_cls"], insns=_insns("exit"), log_level=1)
    )
    assert result.fd is None and result.errno == errno.EACCES
    assert "R0 !read_ok" in result.log


def test_log_buffer_grows_until_the_whole_log_fits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys_, "_LOG_START", 64)
    body = ["r0 = 0"] + ["r0 += 1"] * 200 + ["exit"]
    result = sys_.prog_load(
        sys_.ProgLoadAttr(prog_type=sys_.PROG_TYPES["sched_cls"], insns=_insns(*body), log_level=2 | 4)
    )
    assert result.fd is not None
    result.fd.close()
    assert result.log.startswith("func#0") and "processed 202 insns" in result.log


def test_btf_load_failure_carries_the_kernel_log() -> None:
    with pytest.raises(sys_.BpfError) as info:
        sys_.btf_load(b"\x9f\xeb\x01\x00" + bytes(20))
    assert info.value.command == "BPF_BTF_LOAD"
