"""The reference interpreter: BPF executed exactly as a Linux 6.18 x86-64 host runs it.

Semantics follow kernel/bpf/core.c ___bpf_prog_run, as amended by the verifier's
post-verification rewrites that the JIT relies on (do_misc_fixups: division
guards, may_goto counters, LD_ABS/LD_IND as calls to bpf_skb_load_helper_*), and
bpf_throw as kernel/bpf/helpers.c runs it. One method per instruction `Kind`
(`HANDLERS` names them; a test checks the set is closed). Memory is the emulated
kernel's `AddressSpace`; calls go to the emulated kernel's services.

The interpreter never prints; `run` returns an `Outcome`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence

from framework.fixup.maygoto import BPF_MAX_TIMED_LOOPS, MAY_GOTO_QUANTUM_NS, NSEC_PER_SEC
from framework.isa import opcodes as op
from framework.isa.decode import Slots
from framework.isa.insn import Insn
from framework.isa.opcodes import Kind
from framework.isa.semantics import MASK32, MASK64, alu, bswap, jump, sext
from framework.kernel.api import Kernel, KernelFault, NotEmulated
from framework.kernel.memory import Fault
from framework.load.program import Subprog
from framework.run.callstack import STACK_STRIDE, STACK_TOP, CallStack, Frame
from framework.run.frames import Outcome, ThrowState, Unwinder
from framework.run.tailcall import Image, ProgArray
from framework.throwpoints import Force, ForceCounter

__all__ = [
    "BPF_MAX_LOOPS",
    "HANDLERS",
    "Interpreter",
]

BPF_MAX_LOOPS = 8 * 1024 * 1024  # include/linux/bpf.h
TAIL_CALL = 12  # helper id of bpf_tail_call
_STOP = -1  # return pc of a frame whose exit ends the current run loop


class _Throw(Exception):
    def __init__(self, pc: int, cookie: int) -> None:
        super().__init__(pc, cookie)
        self.pc = pc
        self.cookie = cookie


class _Stop(Exception):
    """End the whole program with r0 (a failed LD_ABS/LD_IND)."""

    def __init__(self, r0: int) -> None:
        super().__init__(r0)
        self.r0 = r0


class _Bad(Exception):
    """A fault that is not a memory access (bad jump, bad call, stack overflow)."""


class _Limit(Exception):
    """The run hit its instruction or time limit."""


class Interpreter:
    """Runs one program's slots against an emulated kernel.

    `subprogs` (main first) name the frames and locate the exception callback;
    `kfuncs` resolves a kfunc call's imm (the `Program` encoding); `conformance`
    allows `callx` and uses the suite's helper conventions (the kernel decides them);
    `branch_overrides` forces conditional jumps at given pcs (taken or not), every time;
    `force` drives the run to one throwing point (framework.throwpoints), once;
    `images` (the caller first) and `prog_arrays` (by map address) are the linked view of a
    run with tail calls (framework.run.tailcall).
    """

    def __init__(
        self,
        slots: Slots,
        kernel: Kernel,
        *,
        subprogs: Sequence[Subprog] = (),
        kfuncs: Sequence[str] = (),
        conformance: bool = False,
        unwinder: Unwinder | None = None,
        max_insns: int = 200_000_000,
        timeout_s: float = 0.0,
        branch_overrides: Mapping[int, bool] | None = None,
        force: Force | None = None,
        images: Sequence[Image] = (),
        prog_arrays: Mapping[int, ProgArray] | None = None,
    ) -> None:
        self.slots = slots
        self.kernel = kernel
        self.mem = kernel.memory
        self.subprogs = tuple(subprogs)
        self.kfuncs = tuple(kfuncs)
        self.conformance = conformance
        self.unwinder = unwinder
        self.max_insns = max_insns
        self.timeout_s = timeout_s  # 0: none; else the run ends as timed out past it
        self._deadline = 0.0
        self.clock = 0  # the emulated ktime of timed may_goto, in ns
        # pc of a conditional jump -> taken or not, whatever its operands (to force a throw site)
        self.branch_overrides = dict(branch_overrides or {})
        self.force = ForceCounter(force) if force is not None else None  # drive the run to one throwing point
        self.images = tuple(images) or (Image(self._subprog_name(0), 0, self._own_cb()),)
        self.prog_arrays = dict(prog_arrays or {})
        self.tail_call_cnt = 0  # the chain's count, the main frame's tcc slot on x86-64
        self.r = [0] * 11
        self.stack = CallStack(self.mem)
        self._touch = self.stack.touch  # bound once: every stack load and store calls it
        self.count = 0
        self._pc = 0
        self._table: dict[Kind, Callable[[Insn, int], int]] = {k: getattr(self, name) for k, name in HANDLERS.items()}
        # per pc: the instruction and the method of its kind (None for ld_imm64's second slot)
        self._code = [
            None if i is None else (i, self._table[i.spec.kind], i.spec.kind in (Kind.CALL, Kind.CALLX)) for i in slots
        ]

    # -- the Engine interface the kernel services see -------------------------------

    @property
    def pc(self) -> int:
        return self._pc

    def invoke(self, func_addr: int, args: Sequence[int]) -> int:
        """Run a BPF callback (bpf_loop's) to its exit; r6-r9 and r10 are the caller's after."""
        target = self.kernel.func_pc(func_addr)
        if target is None:
            raise KernelFault(f"callback address 0x{func_addr:x} is not a BPF function")
        saved_pc = self._pc
        saved_r0 = self.r[0]
        for i, value in enumerate(args[:5]):
            self.r[1 + i] = value & MASK64
        self._push(target, _STOP, saved_pc)
        self._loop(target)
        result = self.r[0]
        self.r[0] = saved_r0
        self._pc = saved_pc
        return result

    # -- running ----------------------------------------------------------------------

    def run(self, args: Sequence[int] = (), entry: int = 0) -> Outcome:
        """Run from `entry` with r1.. = args; returns how it ended, faults and limits included."""
        self._deadline = time.monotonic() + self.timeout_s if self.timeout_s else 0.0
        self.clock = 0
        self.r = [0] * 11
        for i, value in enumerate(args[:5]):
            self.r[1 + i] = value & MASK64
        self.r[10] = STACK_TOP
        self.tail_call_cnt = 0
        self.target_throw: tuple[str, int] | None = None  # (target, cookie): a throw a target's callback took
        self.stack.reset(Frame(_STOP, (0, 0, 0, 0), 0, -1, self._subprog_name(entry), image=self.images[0]))
        threw = False
        cookie: int | None = None
        try:
            try:
                self._loop(entry)
            except _Throw as throw:
                threw, cookie = True, throw.cookie
                self._throw(throw)
            except _Stop as stop:
                self.r[0] = stop.r0
        except Fault as fault:
            return self._fault(f"{fault.reason}")
        except NotEmulated as exc:
            return self._fault(f"{exc}", unsupported=True)
        except (KernelFault, _Bad) as exc:
            return self._fault(f"{exc}")
        except _Limit as exc:
            return self._fault(f"{exc}", timed_out=True)
        except _Throw:
            return self._fault("bpf_throw from the exception callback")
        target = None
        if not threw and self.target_throw is not None:  # the run threw, in a tail-call target
            threw, (target, cookie) = True, self.target_throw
        return Outcome(self.r[0], threw, cookie, self.count, self.stack.high_water, throw_target=target)

    def _fault(self, reason: str, *, timed_out: bool = False, unsupported: bool = False) -> Outcome:
        return Outcome(
            self.r[0], False, None, self.count, self.stack.high_water, f"pc {self._pc}: {reason}", self._pc,
            timed_out=timed_out, unsupported=unsupported,
        )  # fmt: skip

    def _loop(self, pc: int) -> None:
        code = self._code
        n = len(code)
        limit = self.max_insns
        deadline = self._deadline
        count = self.count
        try:
            while True:
                if not 0 <= pc < n:
                    raise _Bad(f"jump out of the program (to pc {pc})")
                entry = code[pc]
                if entry is None:
                    raise _Bad("jump into the middle of ld_imm64")
                self._pc = pc
                count += 1
                if count > limit:
                    raise _Limit(f"stopped by the instruction limit of {limit}")
                if not count & 0x3FF and deadline and time.monotonic() > deadline:
                    raise _Limit(f"stopped by the time limit of {self.timeout_s:g} s")
                if entry[2]:  # a call may run BPF code (callbacks) that counts too
                    self.count = count
                    try:
                        pc = entry[1](entry[0], pc)
                    finally:
                        count = self.count
                else:
                    pc = entry[1](entry[0], pc)
                if pc == _STOP:
                    return
        finally:
            self.count = count

    def _unwind(self, first: int, pc: int, cookie: int) -> None:
        """The unwinder, if any, on frames `first`.. at a throw from `pc`, while the kernel records
        its releases as the unwinder's."""
        if self.unwinder is None:
            return
        frames = self.stack.states(first, pc, (self.r[6], self.r[7], self.r[8], self.r[9]))
        self.kernel.unwinding = True
        try:
            self.unwinder(ThrowState(pc, cookie, frames), self.kernel, self)
        finally:
            self.kernel.unwinding = False

    def _throw(self, throw: _Throw) -> None:
        """bpf_throw: unwind to the main frame, then run the exception callback (helpers.c bpf_throw)."""
        self._unwind(0, throw.pc, throw.cookie)
        self.stack.cut(0)
        cb = self.images[0].exception_cb
        if cb is None:  # do_misc_fixups' hidden callback: r0 = r1; exit
            self.r[0] = throw.cookie & MASK64
            return
        # the callback runs on the boundary's frame (x86 JIT emit_prologue for exception_cb)
        frames = self.stack.frames
        frames[0] = Frame(_STOP, frames[0].saved, 0, throw.pc, cb.name, image=frames[0].image)
        self.r[1] = throw.cookie & MASK64
        self.r[10] = STACK_TOP
        self._loop(cb.start)

    def _throw_in_target(self, b: int, pc: int, cookie: int) -> int:
        """bpf_throw in a tail-called program: helpers.c bpf_throw's stack walk stops at the first
        frame that is no subprog, the target's main; the TARGET's exception callback (or the
        cookie) is what that frame returns, to the caller of the frame that made the tail call."""
        boundary = self.stack.frames[b]
        assert boundary.image is not None
        self.target_throw = (boundary.image.name, cookie)
        self._unwind(b, pc, cookie)
        self.stack.cut(b)
        cb = boundary.image.exception_cb
        if cb is None:  # the default callback returns the cookie: the boundary frame exits with it
            self.r[0] = cookie & MASK64
            return self._pop()
        self.stack.frames[b] = dataclasses.replace(
            boundary, call_pc=pc, subprog=cb.name, may_goto=BPF_MAX_TIMED_LOOPS, image=None
        )
        self.r[1] = cookie & MASK64
        self.r[10] = STACK_TOP - b * STACK_STRIDE
        return cb.start

    def _tail_call(self, pc: int) -> int:
        """bpf_tail_call as the x86-64 JIT runs it (emit_bpf_tail_call_indirect/_direct): fall
        through (ProgArray.target) or count it and start the target on this frame, ctx still in r1."""
        array = self.prog_arrays.get(self.r[2])
        if array is None:
            raise _Bad(f"bpf_tail_call on 0x{self.r[2]:x}, which is no prog array")
        image = array.target(self.r[3] & MASK32, self.tail_call_cnt)
        if image is None:
            return pc + 1
        self.tail_call_cnt += 1  # "Inc tail_call_cnt if the slot is populated"
        frames = self.stack.frames
        depth = len(frames) - 1
        self.stack.restart(depth)
        frames[depth] = dataclasses.replace(
            frames[depth], subprog=image.name, may_goto=BPF_MAX_TIMED_LOOPS, may_goto_stamp=0, image=image
        )
        return image.start

    # -- frames and stacks ----------------------------------------------------------------

    def _own_cb(self) -> Subprog | None:
        return next((s for s in self.subprogs if s.is_exception_cb), None)

    def _subprog_name(self, pc: int) -> str:
        for sub in self.subprogs:
            if sub.start == pc:
                return sub.name
        return f"pc{pc}"

    def _push(self, target: int, return_pc: int, call_pc: int) -> None:
        r = self.r
        frame = Frame(return_pc, (r[6], r[7], r[8], r[9]), r[10], call_pc, self._subprog_name(target))
        fp = self.stack.push(frame)
        if fp is None:
            raise _Bad(f"the call stack of {len(self.stack.frames) + 1} frames is too deep")
        r[10] = fp

    def _load(self, addr: int, size: int) -> int:
        addr &= MASK64
        self._touch(addr)
        return self.mem.load(addr, size)

    def _store(self, addr: int, size: int, value: int) -> None:
        addr &= MASK64
        self._touch(addr)
        self.mem.store(addr, size, value)

    # -- one method per Kind ------------------------------------------------------------------

    def _src(self, insn: Insn) -> int:
        """The second operand: a register, or imm sign-extended to 64 bits."""
        if insn.code & op.X:
            return self.r[insn.src]
        return insn.imm & MASK64

    def alu(self, insn: Insn, pc: int) -> int:
        r = self.r
        o, src_reg = insn.code & 0xF0, bool(insn.code & op.X)
        if insn.alu64:
            r[insn.dst] = alu(o, r[insn.dst], self._src(insn), 64, off=insn.off, reg_src=src_reg) & MASK64
        else:  # 32-bit ops zero-extend their result
            r[insn.dst] = (
                alu(o, r[insn.dst] & MASK32, self._src(insn) & MASK32, 32, off=insn.off, reg_src=src_reg) & MASK32
            )
        return pc + 1

    def neg(self, insn: Insn, pc: int) -> int:
        r = self.r
        r[insn.dst] = (-r[insn.dst]) & (MASK64 if insn.alu64 else MASK32)
        return pc + 1

    def end(self, insn: Insn, pc: int) -> int:
        # core.c ALU_END_TO_BE / ALU_END_TO_LE / ALU64_END_TO_LE on a little-endian host
        r = self.r
        width = insn.imm
        v = r[insn.dst] & ((1 << width) - 1)
        if insn.alu64 or insn.code & op.TO_BE:
            v = bswap(v, width)
        r[insn.dst] = v
        return pc + 1

    def ja(self, insn: Insn, pc: int) -> int:
        return insn.jump_target(pc)

    def jcond(self, insn: Insn, pc: int) -> int:
        r = self.r
        a = r[insn.dst]
        b = r[insn.src] if insn.code & op.X else insn.imm & MASK64
        bits = 32 if insn.jmp32 else 64
        taken = jump(insn.code & 0xF0, a & ((1 << bits) - 1), b & ((1 << bits) - 1), bits)
        if self.branch_overrides and pc in self.branch_overrides:
            taken = self.branch_overrides[pc]
        if self.force is not None:
            side = self.force.decide(pc)
            taken = taken if side is None else side
        return pc + 1 + insn.off if taken else pc + 1

    def may_goto(self, insn: Insn, pc: int) -> int:
        # do_misc_fixups, x86-64's timed form: jump once the frame's count is 0; else count down, and
        # at zero ask arch_bpf_timed_may_goto for more (0 once a quarter second has passed since the
        # frame's first refill), on the emulated clock the machine keeps too (framework.machine)
        frame = self.stack.frames[-1]
        if frame.may_goto == 0:
            return pc + 1 + insn.off
        frame.may_goto -= 1
        if frame.may_goto == 0:
            self.clock += MAY_GOTO_QUANTUM_NS
            if not frame.may_goto_stamp:
                frame.may_goto_stamp = self.clock
                frame.may_goto = BPF_MAX_TIMED_LOOPS
            elif self.clock - frame.may_goto_stamp < NSEC_PER_SEC // 4:
                frame.may_goto = BPF_MAX_TIMED_LOOPS
        return pc + 1

    def call(self, insn: Insn, pc: int) -> int:
        r = self.r
        if insn.src == op.PSEUDO_CALL:
            target = insn.jump_target(pc)
            self._push(target, pc + 1, pc)
            return target
        args = (r[1], r[2], r[3], r[4], r[5])
        if insn.src == op.PSEUDO_KFUNC_CALL:
            if not 0 <= insn.imm < len(self.kfuncs):
                raise _Bad(f"kfunc call with imm {insn.imm}: the program names {len(self.kfuncs)} kfuncs")
            name = self.kfuncs[insn.imm]
            if name == "bpf_throw":
                frames = self.stack.frames
                boundary = max(d for d, f in enumerate(frames) if f.image is not None)
                if boundary or frames[0].image is not self.images[0]:  # a throw in a tail-called program
                    return self._throw_in_target(boundary, pc, r[1])
                raise _Throw(pc, r[1])
            r[0] = self.kernel.kfunc(name, args, self) & MASK64
            return pc + 1
        if insn.src != op.CALL_HELPER:
            raise _Bad(f"call with unknown src {insn.src}")
        if insn.imm == TAIL_CALL and not self.conformance:
            return self._tail_call(pc)
        r[0] = self.kernel.helper(insn.imm, args, self) & MASK64
        return pc + 1

    def callx(self, insn: Insn, pc: int) -> int:
        # only the ISA suite uses callx: the register holds a helper number
        if not self.conformance:
            raise _Bad("callx is not allowed outside the conformance suite")
        r = self.r
        r[0] = self.kernel.helper(r[insn.dst] & MASK32, (r[1], r[2], r[3], r[4], r[5]), self) & MASK64
        return pc + 1

    def exit(self, insn: Insn, pc: int) -> int:
        return self._pop()

    def _pop(self) -> int:
        """Leave the innermost frame: its caller's r6-r9 and r10 back, the pc to return to."""
        inner = len(self.stack.frames) > 1
        frame = self.stack.pop()
        if inner:
            r = self.r
            r[6], r[7], r[8], r[9] = frame.saved
            r[10] = frame.caller_fp
        return frame.return_pc

    def ld_imm64(self, insn: Insn, pc: int) -> int:
        if insn.src == 0:
            value = insn.imm64
        elif insn.src == op.PSEUDO_FUNC:
            value = self.kernel.func_address(insn.jump_target(pc))
        else:
            value = self.kernel.ld_imm64(insn, pc)
        self.r[insn.dst] = value & MASK64
        return pc + 2

    def ld_pkt(self, insn: Insn, pc: int) -> int:
        # bpf_gen_ld_abs + bpf_skb_load_helper_{8,16,32}: big-endian; failure ends the program with 0
        size = insn.size
        off = insn.imm if insn.code & 0xE0 == op.ABS else sext(self.r[insn.src] + insn.imm, 32)
        if self.kernel.packet() is None:
            raise _Bad("LD_ABS/LD_IND with no packet")
        at = self.kernel.packet_load(off, size)
        if at is None:
            raise _Stop(0)
        self.r[0] = int.from_bytes(self.mem.read(at, size), "big")
        return pc + 1

    def load(self, insn: Insn, pc: int) -> int:
        size = insn.size
        value = self._load(self.r[insn.src] + insn.off, size)
        if insn.code & 0xE0 == op.MEMSX:
            value = sext(value, 8 * size) & MASK64
        self.r[insn.dst] = value
        return pc + 1

    def store_imm(self, insn: Insn, pc: int) -> int:
        self._store(self.r[insn.dst] + insn.off, insn.size, insn.imm)
        return pc + 1

    def store_reg(self, insn: Insn, pc: int) -> int:
        self._store(self.r[insn.dst] + insn.off, insn.size, self.r[insn.src])
        return pc + 1

    def atomic(self, insn: Insn, pc: int) -> int:
        r = self.r
        size = insn.size
        imm = insn.imm
        if imm == op.LOAD_ACQ:  # dst = *(src + off)
            r[insn.dst] = self._load(r[insn.src] + insn.off, size)
            return pc + 1
        if imm == op.STORE_REL:  # *(dst + off) = src
            self._store(r[insn.dst] + insn.off, size, r[insn.src])
            return pc + 1
        mask = (1 << (8 * size)) - 1
        addr = r[insn.dst] + insn.off
        old = self._load(addr, size)
        src = r[insn.src] & mask
        if imm == op.CMPXCHG:  # compares with r0, returns the old value in r0
            if old == r[0] & mask:
                self._store(addr, size, src)
            r[0] = old
            return pc + 1
        if imm == op.XCHG:
            self._store(addr, size, src)
            r[insn.src] = old
            return pc + 1
        new = alu(imm & ~op.FETCH, old, src, 8 * size)  # add, and, or, xor (SPECS has no other)
        self._store(addr, size, new & mask)
        if imm & op.FETCH:
            r[insn.src] = old
        return pc + 1


# Kind -> the Interpreter method that executes it (the closed set; tests check coverage).
HANDLERS: dict[Kind, str] = {
    Kind.ALU: "alu",
    Kind.NEG: "neg",
    Kind.END: "end",
    Kind.JA: "ja",
    Kind.JCOND: "jcond",
    Kind.MAY_GOTO: "may_goto",
    Kind.CALL: "call",
    Kind.CALLX: "callx",
    Kind.EXIT: "exit",
    Kind.LD_IMM64: "ld_imm64",
    Kind.LD_PKT: "ld_pkt",
    Kind.LOAD: "load",
    Kind.STORE_IMM: "store_imm",
    Kind.STORE_REG: "store_reg",
    Kind.ATOMIC: "atomic",
}
