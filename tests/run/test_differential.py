"""Every strategy's runs against the reference, on random tc programs (hypothesis).

The programs are valid by construction and reach the context the ways real code does:
as r1, copied, spilled across a helper call and filled, offset by a register the verifier
knows is zero, returned from a static subprog, stored in the caller's stack and loaded back
in a callee, or chosen on two paths; they read every kind of `__sk_buff` field at every size,
write the writable ones, touch the packet behind a bounds check, an array map's value and the
stack, may hold a task reference (in r7 or a stack slot) and may throw behind a guard. Each
one runs, verified and planned, under every installed strategy that accepts it, on both
inputs, as each input goes and with its throw forced (framework.run.exercise), and every run
must agree with its reference: the interpreter's run of the program as given
(framework.run.reference). Where bpf() is permitted, the live kernel must give stock's
verdict and message, and the same return values.

Budget: BAKEOFF_DIFF_EXAMPLES examples (default 40, fixed seed, for CI); `tox -e fuzz` runs
many more with a random seed.
"""

from __future__ import annotations

import dataclasses
import os
import struct

from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from kernel.prog import program as assemble_program

from framework import pipeline
from framework.kernel.objects import RunInput
from framework.load.program import Linkage, MapDef, Program
from framework.oracle.check import available
from framework.platform.skb import BYTES, EXACT, SK_BUFF_SIZE, SKB_FIELDS, skb_field
from framework.plugins import get_strategy, strategies
from framework.run.reference import References

EXAMPLES = int(os.environ.get("BAKEOFF_DIFF_EXAMPLES", "40"))
RANDOM = os.environ.get("BAKEOFF_DIFF_RANDOM") == "1"
KFUNCS = ("bpf_throw", "bpf_task_from_pid", "bpf_task_release")
ARRAY = MapDef("m", "array", 4, 16, 4)
IPV4_TCP = bytes.fromhex(
    "00000000000200000000000108004500002800004000400626ce0a0000010a00000204d2005000000001000000005002ffff96bd0000"
)
_TYPE = {1: "u8", 2: "u16", 4: "u32", 8: "u64"}
ADDRESSES = {"data", "data_end", "data_meta", "sk"}
READS = [
    (f.off + d, size)
    for f in SKB_FIELDS
    if f.name not in ADDRESSES
    for size in ((f.size,) if f.access == EXACT else (1, 2, 4, 8) if f.access == BYTES else (1, 2, 4))
    for d in range(0, f.size, size)
    if f.off + d + size <= f.end and (f.off + d) % size == 0
]
WRITES = [(f.off, 8 if f.size == 8 else 4) for f in SKB_FIELDS if f.writable and f.name != "cb"]
WRITES += [
    (48 + d, size) for size in (1, 2, 4, 8) for d in range(0, 20, size) if d + size <= 20 and (48 + d) % size == 0
]


def _ctx_in() -> bytes:
    ctx = bytearray(SK_BUFF_SIZE)
    struct.pack_into("<I", ctx, skb_field("mark").off, 0x11223344)
    struct.pack_into("<I", ctx, skb_field("priority").off, 7)
    ctx[48:68] = bytes(range(0x21, 0x21 + 20))
    struct.pack_into("<I", ctx, skb_field("wire_len").off, 1000)
    struct.pack_into("<I", ctx, skb_field("gso_size").off, 1400)
    return bytes(ctx)


INPUTS = (RunInput("ipv4_tcp", IPV4_TCP), RunInput("ipv4_tcp_ctx_in", IPV4_TCP, ctx=_ctx_in()))


class Gen:
    """Emits a program: r6 holds the context, r9 the value folded into r0, r7 (or fp-8) a held task."""

    def __init__(self, data: st.DataObject) -> None:
        self.d = data
        self.lines: list[str] = []
        self.n = 0
        self.subs: dict[str, list[str]] = {}
        self.written: set[int] = set()  # fp offsets of 8-byte stack slots written

    def draw(self, s: st.SearchStrategy[object]) -> object:
        return self.d.draw(s)

    def label(self) -> str:
        self.n += 1
        return f"L{self.n}"

    def pointer(self) -> str:
        """Put a pointer to the context into a register by one of the ways code does; returns it."""
        way = self.draw(st.sampled_from(("r6", "copy", "spill", "helper", "zero", "returned", "stored", "paths")))
        event(f"ctx via {way}")
        if way == "r6":
            return "r6"
        if way == "copy":
            self.lines += ["r5 = r6", "r8 = r5"]
        elif way == "spill":
            self.lines += ["*(u64 *)(r10 - 16) = r6", "r8 = *(u64 *)(r10 - 16)"]
        elif way == "helper":  # spilled across a helper call (bpf_ktime_get_ns), which clobbers r1-r5
            self.lines += ["*(u64 *)(r10 - 16) = r6", "r1 = 0", "call 5", "r8 = *(u64 *)(r10 - 16)"]
        elif way == "zero":  # what clang emits for `(void *)skb + i` with i known to be 0
            self.lines += ["r4 = 0", "r8 = r6", "r8 += r4"]
        elif way == "returned":
            self.subs["ret_ctx"] = ["ret_ctx:", "r0 = r1", "exit"]
            self.lines += ["r1 = r6", "call ret_ctx", "r8 = r0"]
        elif way == "stored":  # in the caller's stack, loaded back in the callee
            self.subs["load_via"] = ["load_via:", "r0 = *(u64 *)(r1 + 0)", "exit"]
            self.lines += ["*(u64 *)(r10 - 24) = r6", "r1 = r10", "r1 += -24", "call load_via", "r8 = r0"]
        else:  # chosen on two paths
            a, b = self.label(), self.label()
            self.lines += [f"if r9 & 1 goto {a}", "r8 = r6", f"goto {b}", f"{a}:", "*(u64 *)(r10 - 16) = r6"]
            self.lines += ["r8 = *(u64 *)(r10 - 16)", f"{b}:"]
        return "r8"

    def ctx_read(self) -> None:
        off, size = self.draw(st.sampled_from(READS))  # type: ignore[misc]
        ptr = self.pointer()
        self.lines += [f"r3 = *({_TYPE[size]} *)({ptr} + {off})", "r9 ^= r3", "r9 *= 31"]

    def ctx_write(self) -> None:
        off, size = self.draw(st.sampled_from(WRITES))  # type: ignore[misc]
        ptr = self.pointer()
        if self.draw(st.booleans()) and size <= 4:
            self.lines.append(f"*({_TYPE[size]} *)({ptr} + {off}) = {self.draw(st.integers(0, 70000))}")
        else:
            self.lines.append(f"*({_TYPE[size]} *)({ptr} + {off}) = r9")

    def stack(self) -> None:
        off = 8 * int(self.draw(st.integers(6, 12)))  # type: ignore[call-overload]
        if off in self.written and self.draw(st.booleans()):
            size = int(self.draw(st.sampled_from((1, 2, 4, 8))))  # type: ignore[call-overload]
            at = off - size * int(self.draw(st.integers(0, 8 // size - 1)))  # type: ignore[call-overload]
            self.lines += [f"r3 = *({_TYPE[size]} *)(r10 - {at})", "r9 += r3"]
        else:
            self.lines.append(f"*(u64 *)(r10 - {off}) = r9")
            self.written.add(off)

    def packet(self) -> None:
        size = int(self.draw(st.sampled_from((1, 2, 4, 8))))  # type: ignore[call-overload]
        off = int(self.draw(st.integers(0, 60)))  # type: ignore[call-overload]
        skip = self.label()
        self.lines += ["r2 = *(u32 *)(r6 + 76)", "r3 = *(u32 *)(r6 + 80)", "r4 = r2", f"r4 += {off + size}"]
        self.lines += [f"if r4 > r3 goto {skip}", f"r3 = *({_TYPE[size]} *)(r2 + {off})", "r9 += r3", f"{skip}:"]

    def map_value(self) -> None:
        skip = self.label()
        key, at, into = (int(self.draw(st.integers(0, 3))), 8 * int(self.draw(st.integers(0, 1))),  # type: ignore[call-overload]
                         8 * int(self.draw(st.integers(0, 1))))  # type: ignore[call-overload]  # fmt: skip
        self.lines += [f"*(u32 *)(r10 - 32) = {key}", "r1 = m ll", "r2 = r10", "r2 += -32", "call 1"]
        self.lines += [f"if r0 == 0 goto {skip}", f"r3 = *(u64 *)(r0 + {at})", "r9 += r3"]
        self.lines += [f"*(u64 *)(r0 + {into}) = r9", f"{skip}:"]
        self.written.add(32)

    def branch(self) -> None:
        skip = self.label()
        self.lines += [f"if r9 > {self.draw(st.integers(0, 1 << 20))} goto {skip}", "r9 += 1", f"{skip}:"]


def _program(data: st.DataObject) -> tuple[Program, bool]:
    g = Gen(data)
    hold = data.draw(st.sampled_from((None, "r7", "fp-8")))  # the task of pid 2
    throws = bool(data.draw(st.booleans()))
    g.lines += ["r6 = r1", "r9 = *(u32 *)(r1 + 0)", "r7 = 0"]  # r9: the packet's length, unknown to the verifier
    if hold is not None:  # the current task, held until the end (or the throw)
        g.lines += ["r1 = 2", "call bpf_task_from_pid", "if r0 == 0 goto none"]  # kthreadd, on both
        g.lines += ["r7 = r0"] if hold == "r7" else ["*(u64 *)(r10 - 8) = r0"]
    steps = data.draw(st.lists(st.sampled_from(("ctx_read", "ctx_read", "ctx_write", "stack", "packet", "map_value",
                                                "branch")), min_size=1, max_size=10))  # fmt: skip
    at = int(data.draw(st.integers(0, len(steps))))  # type: ignore[arg-type]
    for i, step in enumerate([*steps, "end"]):  # type: ignore[misc]
        if throws and i == at:
            skip = g.label()
            g.lines += [f"if r9 & {data.draw(st.sampled_from((1, 2, 4, 8)))} goto {skip}"]
            g.lines += [f"r1 = {data.draw(st.integers(0, 1000))}", "call bpf_throw", f"{skip}:"]
        if step != "end":
            getattr(g, str(step))()
    if hold is not None:
        g.lines += ["r1 = r7"] if hold == "r7" else ["r1 = *(u64 *)(r10 - 8)"]
        g.lines += ["call bpf_task_release"]
    g.lines += ["r0 = r9", "r1 = r9", "r1 >>= 32", "r0 ^= r1", "exit"]
    g.lines += ["none:", "r0 = 0", "exit"] if hold is not None else []  # an unreachable exit is refused
    for sub in g.subs.values():
        g.lines += sub
    text = "\n".join(g.lines)
    note(text)
    event(f"hold={hold} throws={throws}")
    prog = assemble_program(text, kfuncs=KFUNCS, maps=(ARRAY,), subprogs=tuple(g.subs))
    static = tuple(
        sub if i == 0 else dataclasses.replace(sub, linkage=Linkage.STATIC) for i, sub in enumerate(prog.subprogs)
    )
    return dataclasses.replace(prog, subprogs=static), hold is not None  # no BTF: the kernel sees static subprogs


def _kernel_agrees(prog: Program, stock_verdict: str, stock_message: str | None, retvals: dict[str, int]) -> None:
    from framework.oracle.record import record

    rec = record(prog, INPUTS if stock_verdict == "accepted" else (), batches=1, repeat=1)
    assert (rec.verdict, rec.message) == (stock_verdict, stock_message), "stock's verdict, then the kernel's"
    if rec.verdict == "accepted":
        assert {run.input: run.retval for run in rec.runs} == retvals


STRATEGIES = sorted(strategies())  # every installed strategy, built-in or not
KERNEL = available() is None


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not RANDOM,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
@given(st.data())
def test_every_strategys_runs_agree_with_the_reference(data: st.DataObject) -> None:
    prog, holds = _program(data)
    refs = References()
    stock: tuple[str, str | None, dict[str, int]] | None = None
    for name in STRATEGIES:
        strategy = get_strategy(name)
        verified = pipeline.verify(prog, strategy)
        analysis = verified.analysis
        if name == "stock" and not holds:
            assert analysis.accepted, analysis.message  # valid by construction (a throw holding a task is not)
        if not analysis.accepted or strategy.runtime is None:
            if name == "stock":
                stock = ("rejected", analysis.message, {})
            continue
        runs = pipeline.exercise(pipeline.plan(verified), INPUTS, references=refs)
        event(f"{name} ran")
        bad = [(name, r.result.input, r.throw_pc, r.verdict, r.check and r.check.differences) for r in runs
               if r.verdict != "accepted" or r.result.fault]  # fmt: skip
        assert bad == []
        if name == "stock":
            stock = ("accepted", None, {r.result.input: r.result.retval for r in runs if r.throw_pc is None})
    assert stock is not None
    if KERNEL:
        _kernel_agrees(prog, *stock)


def test_the_generator_covers_every_field_and_write() -> None:
    fields = {next(f.name for f in SKB_FIELDS if f.off <= off < f.end) for off, _ in READS}
    assert fields == {f.name for f in SKB_FIELDS} - ADDRESSES
    assert {next(f.name for f in SKB_FIELDS if f.off <= off < f.end) for off, _ in WRITES} == {
        f.name for f in SKB_FIELDS if f.writable
    }
