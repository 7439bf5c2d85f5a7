"""What the running kernel says about one program: `KernelRecord`.

The verifier's statistics come from its log at BPF_LOG_STATS (kernel/bpf/verifier.c
print_verification_stats): `verification time N usec`, `stack depth a+b+c` (one
number per subprog, hidden subprogs included) and `processed N insns ...`.
Timings are BPF_PROG_TEST_RUN's own `duration` (the kernel's mean ns per run
over `repeat` runs, bpf_test_timer_leave); one figure is the median of
`batches` such calls, and the spread is their min and max.
"""

from __future__ import annotations

import errno
import os
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from framework.errors import InternalError
from framework.load.corpus import RunInput
from framework.load.program import Program
from framework.oracle import bpf_syscall as sys_
from framework.oracle.loader import load
from framework.oracle.prog_array import filled

__all__ = [
    "BATCHES",
    "REPEAT",
    "InputRun",
    "KernelRecord",
    "LogStats",
    "image_offsets",
    "last_error_line",
    "parse_stats",
    "record",
    "refused_before_verifying",
]

BATCHES = 11
REPEAT = 1000

_PROCESSED = re.compile(r"^processed (\d+) insns \(limit \d+\)", re.M)
_VTIME = re.compile(r"verification time (\d+) usec")  # not anchored: a message without "\n" runs into it
_RUN_ON = re.compile(r"^(.+?)verification time \d+ usec$")
_STACK = re.compile(r"^stack depth ([\d+]+)\s*$", re.M)
_STATS_LINE = re.compile(r"^(processed \d+ insns|verification time \d+ usec|stack depth [\d+]+)")


@dataclass(frozen=True, slots=True)
class InputRun:
    """BPF_PROG_TEST_RUN of one input: retval and ns per run (median of `batches` x `repeat`)."""

    input: str
    retval: int
    ns: float  # median over batches of the kernel's mean ns per run
    ns_min: int
    ns_max: int
    batches: int
    repeat: int


@dataclass(frozen=True, slots=True)
class LogStats:
    insns_processed: int | None
    verification_usec: int | None
    stack_depth: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class KernelRecord:
    """One program as the running kernel verified, JITed and ran it."""

    program: str
    verdict: str  # "accepted" / "rejected"
    message: str | None  # the kernel's last error line; None when accepted
    errno: int
    stack_depth: tuple[int, ...]
    insns_processed: int | None
    verification_usec: int | None
    bytes_xlated: int | None
    bytes_jited: int | None
    jited_image: bytes
    jited_ksyms: tuple[int, ...]
    jited_func_lens: tuple[int, ...]
    jited_lines: tuple[sys_.JitedLine, ...]  # per line_info record: insn_off and native address
    runs: tuple[InputRun, ...]
    log: str


def image_offsets(rec: KernelRecord) -> tuple[tuple[int, int], ...]:
    """(xlated insn_off, byte offset in `jited_image`) per line_info record.

    The image is the JITed functions back to back, in `jited_ksyms` order
    (bpf_prog_get_info_by_fd copies each func's image in turn); an address is
    placed in the function whose [ksym, ksym + len) holds it; a line outside
    every function is left out. Empty when the kernel hides addresses.
    Seen on Linux 6.18: in a program that throws, jited_line_info[0] holds the
    hidden exception callback's address (JITed, but not in jited_ksyms:
    func_cnt excludes hidden subprogs), so main's first line is left out.
    """
    starts = []
    at = 0
    for ksym, length in zip(rec.jited_ksyms, rec.jited_func_lens, strict=False):
        starts.append((ksym, length, at))
        at += length
    out = []
    for line in rec.jited_lines:
        for ksym, length, base in starts:
            if ksym and ksym <= line.jited_addr < ksym + length:
                out.append((line.insn_off, base + line.jited_addr - ksym))
                break
    return tuple(out)


def parse_stats(log: str) -> LogStats:
    processed = _PROCESSED.search(log)
    vtime = _VTIME.search(log)
    stack = _STACK.search(log)
    return LogStats(
        int(processed.group(1)) if processed else None,
        int(vtime.group(1)) if vtime else None,
        tuple(int(x) for x in stack.group(1).split("+")) if stack else (),
    )


def last_error_line(log: str, errno: int) -> str:
    """The last log line before the statistics, as selftests' `__msg` match it; else strerror."""
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    lines = [ln for ln in lines if not _STATS_LINE.match(ln)]
    if lines and (m := _RUN_ON.match(lines[-1])):  # e.g. record_func_key's "expected prog array map ..."
        lines[-1] = m.group(1)
    if lines:
        return lines[-1]
    return os.strerror(errno) if errno else "rejected"


BATCH_NS = 20_000_000  # a batch of a slow program runs fewer times: about this long at most


def time_input(prog: sys_.Fd, inp: RunInput, *, batches: int = BATCHES, repeat: int = REPEAT) -> InputRun:
    """`batches` BPF_PROG_TEST_RUN calls of `repeat` runs each (fewer for a program whose one run
    takes long: each batch about BATCH_NS at most); retval from the first."""
    data, ctx = inp.packet or b"", inp.ctx or b""
    first = sys_.prog_test_run(prog, data, ctx_in=ctx, repeat=1)
    repeat = max(1, min(repeat, BATCH_NS // max(first.duration_ns, 1)))
    durations = [sys_.prog_test_run(prog, data, ctx_in=ctx, repeat=repeat).duration_ns for _ in range(batches)]
    return InputRun(
        inp.name,
        first.retval,
        float(statistics.median(durations)),
        min(durations),
        max(durations),
        batches,
        repeat,
    )


def record(
    program: Program,
    inputs: Sequence[RunInput] = (),
    *,
    log_level: int = 1,
    batches: int = BATCHES,
    repeat: int = REPEAT,
) -> KernelRecord:
    """Load `program` (a framework `Program`), read its info, test-run each input, close everything."""
    with load(program, log_level=log_level) as loaded:
        stats = parse_stats(loaded.log)
        if loaded.prog is None:
            return KernelRecord(
                program=program.name,
                verdict="rejected",
                message=last_error_line(loaded.log, loaded.errno),
                errno=loaded.errno,
                stack_depth=stats.stack_depth,
                insns_processed=stats.insns_processed,
                verification_usec=stats.verification_usec,
                bytes_xlated=None,
                bytes_jited=None,
                jited_image=b"",
                jited_ksyms=(),
                jited_func_lens=(),
                jited_lines=(),
                runs=(),
                log=loaded.log,
            )
        info = sys_.prog_info(loaded.prog)
    # Each input runs on a program loaded afresh, so what one input's runs leave in
    # maps (a full ring buffer, a counter) cannot change the next input's result.
    runs = []
    for inp in inputs:
        with load(program, log_level=0) as fresh:
            if fresh.prog is None:
                raise InternalError(f"{program.name}: accepted once, then refused: {fresh.log[-500:]}")
            for entry in inp.maps:
                sys_.map_update(fresh.map_fd(entry.name), entry.key, entry.value)
            with filled(fresh, inp.prog_array):
                runs.append(time_input(fresh.prog, inp, batches=batches, repeat=repeat))
    return KernelRecord(
        program=program.name,
        verdict="accepted",
        message=None,
        errno=0,
        stack_depth=stats.stack_depth,
        insns_processed=stats.insns_processed,
        verification_usec=stats.verification_usec,
        bytes_xlated=info.xlated_prog_len,
        bytes_jited=info.jited_prog_len,
        jited_image=info.jited_prog_insns,
        jited_ksyms=info.jited_ksyms,
        jited_func_lens=info.jited_func_lens,
        jited_lines=info.jited_lines,
        runs=tuple(runs),
        log=loaded.log,
    )


# program types whose load needs a BTF target; a security module may refuse them before the verifier
BTF_TARGET_TYPES = frozenset({"tracing", "lsm", "ext"})


def refused_before_verifying(program: Program, rec: KernelRecord) -> str | None:
    """Why the kernel gave no verifier verdict on `program` (None: it did): bpf_prog_load refused
    its type with EPERM and an empty log, before bpf_check ran (a security module's policy)."""
    if program.prog_type in BTF_TARGET_TYPES and rec.errno == errno.EPERM and not rec.log.strip():
        return f"this kernel refuses every {program.prog_type} load with EPERM before verifying it"
    return None
