"""`frame-descriptors` (the 2024 RFC): its verdicts, its merge rules, its table and its costs."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from framework import pipeline
from framework.load.asm import load_asm
from framework.load.corpus import CorpusEntry
from framework.load.program import Program
from framework.plugins import get_strategy
from framework.verify import Analysis, verify
from strategies.descriptors import MERGE_FAILED, Descriptor, Entry, Table, merge
from strategies.frame_descriptors import FrameDescriptors

from .corpus import ENTRIES, verified


def _run(program: Program) -> tuple[pipeline.Verified, Analysis]:
    table, v = verified(FrameDescriptors(), program)
    assert isinstance(table, Table)
    return v, v.analysis


def _asm(tmp_path: Path, name: str, body: str) -> Program:
    text = f"# program: {name}\n# section: tc\n# kfunc: bpf_task_from_pid\n# kfunc: bpf_throw\n{body}"
    path = tmp_path / f"{name}.s"
    path.write_text(text)
    (program,) = load_asm(str(path))
    return program


# The RFC's asm scenarios (exceptions_cleanup.c / exceptions_cleanup_fail.c), with a task
# reference where the RFC used a ring-buffer record: (name, body, verdict, message).
RFC_ASM = [
    (
        "reject_with_reference",  # the reference only in R0 at the throw: no descriptor holds it
        """
  r1 = 2
  call bpf_task_from_pid
  r1 = 0
  call bpf_throw
  r0 = 0
  exit
""",
        "rejected",
        "bpf_throw would lead to reference leak",
    ),
    (
        "reference_in_r6",  # the same reference kept in a callee-saved register: released
        """
  r1 = 2
  call bpf_task_from_pid
  r6 = r0
  r1 = 0
  call bpf_throw
  r0 = 0
  exit
""",
        "accepted",
        None,
    ),
    (
        "reject_slot_with_invalid_vs_ptr",  # r6: a task on one path, an uninitialised read on the other
        """
  call 7
  if r0 == 0 goto other
  r1 = 2
  call bpf_task_from_pid
  r6 = r0
  goto throw
other:
  r6 = *(u64 *)(r10 - 8)
throw:
  r1 = 0
  call bpf_throw
  r0 = 0
  exit
""",
        "rejected",
        MERGE_FAILED,
    ),
    (
        "reject_slot_with_zero_vs_ptr_ok",  # fp-8: 0, then on one path a task: NULL merges with it
        """
  r1 = 0
  *(u64 *)(r10 - 8) = r1
  call 7
  if r0 == 0 goto throw
  r1 = 2
  call bpf_task_from_pid
  *(u64 *)(r10 - 8) = r0
throw:
  r1 = 0
  call bpf_throw
  r0 = 0
  exit
""",
        "accepted",
        None,
    ),
]


@pytest.mark.parametrize(("name", "body", "verdict", "message"), RFC_ASM, ids=[c[0] for c in RFC_ASM])
def test_rfc_asm_scenarios(tmp_path: Path, name: str, body: str, verdict: str, message: str | None) -> None:
    stock = verify(_asm(tmp_path, name, body), log_level=0)
    _, analysis = _run(_asm(tmp_path, name, body))
    assert analysis.verdict.value == verdict, analysis.message
    assert analysis.message == message
    if verdict == "accepted":
        assert stock.verdict.value == "rejected"  # stock refuses what the descriptors clean up


OBJ = Entry(-8, "obj", 7)  # fp-8
TASK = Entry(-8, "task", 0)


@pytest.mark.parametrize(
    ("old", "new", "merged"),
    [
        ((OBJ,), (OBJ,), (OBJ,)),  # identical entries merge
        ((OBJ,), (), None),  # a pointer against something that is not NULL
        ((OBJ,), (TASK,), None),  # two kinds in one slot
        ((OBJ,), (Entry(-8, "obj", 8),), None),  # two BTF types
        ((), (), ()),
    ],
)
def test_merge_rules(old: tuple[Entry, ...], new: tuple[Entry, ...], merged: tuple[Entry, ...] | None) -> None:
    a = Descriptor(10, 0, old, frozenset())
    b = Descriptor(10, 0, new, frozenset())
    got = merge(a, b)
    assert (got.entries if got else None) == merged


def test_null_merges_with_a_pointer_either_way() -> None:
    ptr = Descriptor(10, 0, (OBJ,), frozenset())
    null = Descriptor(10, 0, (), frozenset({-8}))  # fp-8 holds NULL
    for a, b in ((ptr, null), (null, ptr)):
        got = merge(a, b)
        assert got is not None and got.entries == (OBJ,) and got.nulls == frozenset()


def test_table_encoding_and_costs() -> None:
    # four_frames: resources across four frames, one of them a throwing global subprog
    entry = next(e for e in ENTRIES if e.program.name == "four_frames")
    v, analysis = _run(entry.program)
    p = pipeline.plan(v).plan
    blob = p.metadata
    (count,) = struct.unpack_from("<I", blob)
    off, seen = 4, 0
    for _ in range(count):
        pc, subprog, n = struct.unpack_from("<IHH", blob, off)
        off += 8
        for _ in range(n):
            where, kind, loc, _btf_id = struct.unpack_from("<BBhI", blob, off)
            assert where in (0, 1) and kind > 0 and (loc < 0 if where == 0 else 6 <= loc <= 9)
            off += 8
            seen += 1
        assert 0 <= pc < len(entry.program.slots) and 0 <= subprog < len(entry.program.subprogs)
    assert off == len(blob) == p.metadata_bytes
    assert seen >= 4  # four resources, four frames
    # the RFC adds nothing on the happy path and no stack
    assert p.added_insns == 0 and set(p.extra_stack) == {0}
    stock = verify(next(e for e in ENTRIES if e.program.name == "four_frames_clean").program, log_level=0)
    assert len(analysis.stack_depth) == len(stock.stack_depth)


KERNEL_ACCEPTED = [e for e in ENTRIES if e.spec["kernel"]["verdict"] == "accepted"]


@pytest.mark.parametrize("entry", KERNEL_ACCEPTED, ids=lambda e: e.program.name)
def test_no_stack_beyond_the_kernels(entry: CorpusEntry) -> None:
    # frame descriptors cost no stack: each subprog's depth is the kernel's own
    _, analysis = _run(entry.program)
    assert list(analysis.stack_depth) == entry.spec["kernel"]["stack_depth"]


def test_registered_like_any_plugin() -> None:
    s = get_strategy("frame-descriptors")
    assert isinstance(s, FrameDescriptors) and s.summary
