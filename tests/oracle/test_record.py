"""Parsing the verifier log: statistics and the message tests match (no kernel needed)."""

from __future__ import annotations

from framework.oracle.record import last_error_line, parse_stats

REJECTED = """\
0: R1=ctx() R10=fp0
; bpf_throw(0); @ exceptions_fail.c:12
5: (85) call bpf_throw#66002
Unreleased reference id=2 alloc_insn=3
bpf_throw would lead to reference leak
verification time 41 usec
stack depth 0+0
processed 6 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
"""


def test_stats_line_fields() -> None:
    stats = parse_stats(REJECTED)
    assert stats.insns_processed == 6
    assert stats.verification_usec == 41
    assert stats.stack_depth == (0, 0)


def test_last_error_line_skips_the_statistics() -> None:
    assert last_error_line(REJECTED, 13) == "bpf_throw would lead to reference leak"


def test_without_a_log_the_errno_speaks() -> None:
    assert last_error_line("", 22) == "Invalid argument"
    assert parse_stats("").stack_depth == ()


def test_a_message_without_a_newline_is_cut_from_the_statistics_it_runs_into() -> None:
    # record_func_key prints "expected prog array map for tail call" without "\n"
    log = (
        "3: (85) call bpf_tail_call#12\n"
        "expected prog array map for tail callverification time 45 usec\n"
        "stack depth 0\n"
        "processed 3 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n"
    )
    assert last_error_line(log, 22) == "expected prog array map for tail call"
    assert parse_stats(log).verification_usec == 45
