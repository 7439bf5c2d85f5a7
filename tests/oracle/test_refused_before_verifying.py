"""A load the kernel refuses before its verifier runs gives no verdict to hold the project to."""

from __future__ import annotations

import dataclasses
import errno

from framework.load.program import Linkage, Program, Subprog
from framework.oracle.record import KernelRecord, refused_before_verifying


def _program(prog_type: str) -> Program:
    return Program("p", "s", prog_type, (), (Subprog("p", 0, 0, Linkage.GLOBAL),), "<p>", "")


def _rec(err: int, log: str) -> KernelRecord:
    return KernelRecord(
        program="p", verdict="rejected", message=None, errno=err, stack_depth=(), insns_processed=None,
        verification_usec=None, bytes_xlated=None, bytes_jited=None, jited_image=b"", jited_ksyms=(),
        jited_func_lens=(), jited_lines=(), runs=(), log=log,
    )  # fmt: skip


def test_an_eperm_with_no_log_for_a_btf_target_type_is_no_verdict() -> None:
    for prog_type in ("tracing", "lsm", "ext"):
        reason = refused_before_verifying(_program(prog_type), _rec(errno.EPERM, ""))
        assert reason is not None and prog_type in reason and "EPERM" in reason


def test_a_verifier_refusal_is_a_verdict() -> None:
    assert refused_before_verifying(_program("tracing"), _rec(errno.EPERM, "0: (b7) r0 = 0\nR0 !read_ok\n")) is None
    assert refused_before_verifying(_program("tracing"), _rec(errno.EACCES, "")) is None
    assert refused_before_verifying(_program("sched_cls"), _rec(errno.EPERM, "")) is None
    tc = dataclasses.replace(_program("sched_cls"), section="tc")
    assert refused_before_verifying(tc, _rec(errno.EPERM, "")) is None
