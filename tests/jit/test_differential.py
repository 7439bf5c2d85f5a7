"""Interpreter vs JIT on random programs that are valid by construction (hypothesis).

Programs: straight-line ALU (64 and 32 bit, division included), forward branches,
bounded loops, stack stores, loads and atomics, packet loads behind a bounds
check, static subprog calls, kfunc calls that acquire a task and release it,
and throws (conditional, from main or a subprog). The generator keeps the
verifier's rules: only written registers are read, r1-r5 are dead after calls,
nothing is held at a throw. Before exiting, main folds its whole stack into r0,
so equal r0 means equal stack contents too. Compared: r0 (64 bits), threw and
cookie, fault, the service calls made, and the ledger's leaks and double releases.
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar

from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from framework.isa import opcodes as op
from framework.isa.llvm_asm import assemble
from framework.load.corpus import RunInput
from framework.load.program import Linkage, Program, Subprog
from framework.machine.conformance import subprog_bounds
from framework.run.result import run_program
from framework.verify import verify

T = TypeVar("T")
KFUNCS = ("bpf_throw", "bpf_task_from_pid", "bpf_task_release")
KFUNC_MARK = 0xF00  # `call 0xf0k` stands for kfunc k
PACKET = bytes(range(64))
SCALARS = (0, 1, 2, 3, 4, 5, 7, 8, 9)  # r6 holds the ctx, r10 the frame
ALU = ("+=", "-=", "*=", "/=", "%=", "|=", "&=", "^=", "s/=", "s%=")
SIZES = {1: "u8", 2: "u16", 4: "u32", 8: "u64"}
JUMPS = ("==", "!=", ">", ">=", "<", "<=", "s>", "s<", "&")


class Gen:
    """Emits assembly lines, tracking which registers hold a scalar."""

    def __init__(self, data: st.DataObject, defined: set[int], prefix: str = "m") -> None:
        self.prefix = prefix
        self.d = data
        self.defined = set(defined)
        self.lines: list[str] = []
        self.labels = 0
        self.called: set[int] = set()

    def draw(self, s: st.SearchStrategy[T]) -> T:
        return self.d.draw(s)

    def reg(self) -> int:
        return self.draw(st.sampled_from(sorted(self.defined)))

    def imm(self) -> int:
        return self.draw(st.one_of(st.integers(-4, 70), st.integers(-(2**31), 2**31 - 1)))

    def label(self) -> str:
        self.labels += 1
        return f"{self.prefix}L{self.labels}"

    def alu(self, regs: tuple[int, ...] = SCALARS) -> None:
        dst = self.draw(st.sampled_from([r for r in regs if r in self.defined] or [0]))
        w = "w" if self.draw(st.booleans()) else "r"
        kind = self.draw(st.sampled_from(("op_k", "op_x", "mov_k", "mov_x", "shift", "neg", "end")))
        if dst not in self.defined or kind == "mov_k":
            self.lines.append(f"{w}{dst} = {self.imm()}")
        elif kind == "mov_x":
            self.lines.append(f"{w}{dst} = {w}{self.reg()}")
        elif kind == "op_k":  # the verifier refuses a division by the constant 0
            alu, imm = self.draw(st.sampled_from(ALU)), self.imm()
            self.lines.append(f"{w}{dst} {alu} {imm or 1 if '/' in alu or '%' in alu else imm}")
        elif kind == "op_x":
            self.lines.append(f"{w}{dst} {self.draw(st.sampled_from(ALU))} {w}{self.reg()}")
        elif kind == "shift":
            shift = self.draw(st.sampled_from(("<<=", ">>=", "s>>=")))
            self.lines.append(f"{w}{dst} {shift} {self.draw(st.integers(0, 31 if w == 'w' else 63))}")
        elif kind == "neg":
            self.lines.append(f"{w}{dst} = -{w}{dst}")
        else:
            self.lines.append(f"r{dst} = {self.draw(st.sampled_from(('be16', 'be32', 'be64', 'le16', 'le32')))} r{dst}")
        self.defined.add(dst)

    def stack(self) -> None:
        size = self.draw(st.sampled_from((1, 2, 4, 8)))
        off = size * self.draw(st.integers(1, 64 // size))
        what = self.draw(st.sampled_from(("store", "load", "store_imm", "atomic")))
        if what == "store":
            self.lines.append(f"*({SIZES[size]} *)(r10 - {off}) = r{self.reg()}")
        elif what == "store_imm":
            self.lines.append(f"*({SIZES[size]} *)(r10 - {off}) = {self.draw(st.integers(-1000, 1000))}")
        elif what == "atomic" and size >= 4:
            self.lines.append(f"lock *({SIZES[size]} *)(r10 - {off}) += {'w' if size == 4 else 'r'}{self.reg()}")
        else:
            dst = self.draw(st.sampled_from(SCALARS))
            self.lines.append(f"r{dst} = *({SIZES[size]} *)(r10 - {off})")
            self.defined.add(dst)

    def packet(self) -> None:
        size = self.draw(st.sampled_from((1, 2, 4, 8)))
        off = self.draw(st.integers(0, 40))
        skip, dst = self.label(), self.draw(st.sampled_from((0, 7, 8, 9)))
        self.lines += ["r2 = *(u32 *)(r6 + 76)", "r3 = *(u32 *)(r6 + 80)", "r4 = r2", f"r4 += {off + size}"]
        self.lines += [f"r{dst} = 0", f"if r4 > r3 goto {skip}", f"r{dst} = *({SIZES[size]} *)(r2 + {off})", f"{skip}:"]
        self.defined -= {2, 3, 4}
        self.defined.add(dst)

    def branch(self) -> None:
        end = self.label()
        a = self.reg()
        rhs = f"r{self.reg()}" if self.draw(st.booleans()) else str(self.draw(st.integers(-5, 70)))
        self.lines.append(f"if r{a} {self.draw(st.sampled_from(JUMPS))} {rhs} goto {end}")
        before = set(self.defined)
        for _ in range(self.draw(st.integers(1, 4))):
            self.alu()
        self.defined = before
        self.lines.append(f"{end}:")

    def loop(self) -> None:
        top = self.label()
        self.lines += [f"r9 = {self.draw(st.integers(1, 6))}", f"{top}:"]
        for _ in range(self.draw(st.integers(1, 4))):
            self.alu(tuple(r for r in SCALARS if r != 9))
        self.lines += ["r9 -= 1", f"if r9 != 0 goto {top}"]
        self.defined.add(9)

    def task(self) -> None:
        skip = self.label()
        pid = self.draw(st.sampled_from((1, 2, 1000, 4242)))
        self.lines += [f"r1 = {pid}", f"call {KFUNC_MARK + 1:#x}", f"if r0 == 0 goto {skip}", "r1 = r0"]
        self.lines += [f"call {KFUNC_MARK + 2:#x}", f"{skip}:", "r0 = 0"]
        self.defined -= {1, 2, 3, 4, 5}
        self.defined.add(0)

    def throw(self) -> None:
        skip = self.label()
        self.lines += [
            f"if r{self.reg()} {self.draw(st.sampled_from(JUMPS))} {self.draw(st.integers(0, 9))} goto {skip}"
        ]
        self.lines += [f"r1 = {self.draw(st.integers(0, 2**31 - 1))}", f"call {KFUNC_MARK:#x}", f"{skip}:"]
        self.defined -= {1}

    def call(self, subs: int, callee: int | None = None) -> None:
        k = self.draw(st.integers(1, subs)) if callee is None else callee
        self.called.add(k)
        self.lines += [f"r1 = r{self.reg()}", f"r2 = r{self.reg()}", f"call f{k}"]
        self.defined -= {1, 2, 3, 4, 5}
        dst = self.draw(st.sampled_from((7, 8)))
        self.lines.append(f"r{dst} = r0")
        self.defined |= {0, dst}


def _program(data: st.DataObject) -> Program:
    subs = int(data.draw(st.integers(0, 2)))
    g = Gen(data, {1})
    g.lines += ["r6 = r1", *(f"*(u64 *)(r10 - {8 * k}) = {k * 1000 + 7}" for k in range(1, 9))]
    g.lines += [f"r{r} = {g.imm()}" for r in SCALARS]  # r1 too: the ctx pointer differs between engines
    g.defined = set(SCALARS)
    steps = ["alu", "alu", "stack", "packet", "branch", "loop", "task", "throw"] + (["call"] * (subs > 0))
    for _ in range(int(data.draw(st.integers(1, 12)))):
        step = data.draw(st.sampled_from(steps))
        if step == "call":
            g.call(subs)
        else:
            getattr(g, step)()
    for k in range(1, subs + 1):  # a subprog nothing calls is dead code: `unreachable insn` (check_cfg)
        if k not in g.called:
            g.call(subs, k)
    g.lines += ["r0 = 0" if 0 not in g.defined else "r0 ^= r0"]  # r0 may hold a pointer-free scalar only
    g.lines += [f"r1 = *(u64 *)(r10 - {8 * k})\nr0 ^= r1\nr0 *= 31" for k in range(1, 9)]
    g.lines += ["r0 += r7", "r0 += r8", "r0 += r9", "exit"]
    for k in range(1, subs + 1):
        f = Gen(data, {1, 2}, prefix=f"f{k}")
        f.lines.append(f"f{k}:")
        for _ in range(int(data.draw(st.integers(1, 6)))):
            step = data.draw(st.sampled_from(("alu", "alu", "branch", "stack_f", "throw")))
            if step == "stack_f":
                f.lines += [f"*(u64 *)(r10 - 8) = r{f.reg()}", "r0 = *(u64 *)(r10 - 8)"]
                f.defined.add(0)
            else:
                getattr(f, step)()
        f.lines += [f"r0 = r{f.reg()}", "exit"]
        g.lines += f.lines
    lines = [part for line in g.lines for part in line.split("\n")]
    note("\n".join(lines))
    slots = list(assemble(lines).slots)
    for pc, insn in enumerate(slots):
        if insn is not None and insn.spec.name == "call" and insn.src == 0 and insn.imm >= KFUNC_MARK:
            slots[pc] = insn.replace(src=op.PSEUDO_KFUNC_CALL, imm=insn.imm - KFUNC_MARK)
    bounds = subprog_bounds(tuple(slots))
    subprogs = tuple(
        Subprog("main" if i == 0 else f"f{i}", s, e, Linkage.GLOBAL if i == 0 else Linkage.STATIC)
        for i, (s, e) in enumerate(bounds)
    )
    return Program("rand", "tc", "sched_cls", tuple(slots), subprogs, "<hypothesis>", "", kfuncs=KFUNCS)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_interpreter_and_jit_agree(data: st.DataObject) -> None:
    prog = _program(data)
    analysis = verify(prog, log_level=0)
    assert analysis.accepted, analysis.message  # valid by construction: the JIT runs what the verifier typed
    inp = RunInput("pkt", packet=data.draw(st.sampled_from((PACKET, PACKET[:20], PACKET[:14]))))
    want = run_program(prog, inp, "interp")
    got = run_program(prog, inp, "jit")
    event(f"threw={want.threw}")
    event(f"subprogs={len(prog.subprogs)}")
    event(f"tasks={sum(want.service_calls.values())}")
    assert want.fault is None, want.fault
    assert got.fault is None, got.fault
    assert (got.r0, got.threw, got.cookie) == (want.r0, want.threw, want.cookie)
    assert dict(got.service_calls) == dict(want.service_calls)
    same = ("leaked", "double_released", "used_after_release")
    assert [getattr(got, k) for k in same] == [getattr(want, k) for k in same]
    assert dataclasses.asdict(got)["released_by_unwinder"] == dataclasses.asdict(want)["released_by_unwinder"]
