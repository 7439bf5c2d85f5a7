"""What a lowering returns and what it reads: the JIT's items and its context.

A `lower_<kind>` (framework.jit.lower, framework.jit.tailcall) returns a list of
items: iced `Instruction`s, plus placeholders the pass driver
(`framework.jit.compile`) resolves once it knows where the code lands: `Branch` (a
jump whose displacement do_jit computed from the previous pass's addrs), `Back` (a
rel8 jump to an earlier item of the same sequence), `Fwd` (a jump to a later item,
or past the sequence's end: the tail-call code's `out` label), `CallTo` and
`JumpTo` (rel32 call / jmp to an absolute address).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from iced_x86 import Instruction

from framework.errors import FrameworkError
from framework.isa.insn import Insn
from framework.jit.x86 import CodeT


@dataclass(frozen=True, slots=True)
class Branch:
    """A jump whose displacement, from its own end, is `offset` bytes (do_jit's jmp_offset)."""

    short: CodeT  # rel8 code
    near: CodeT  # rel32 code
    offset: int


@dataclass(frozen=True, slots=True)
class Back:
    """A rel8 jump to item `to` of the same sequence (the cmpxchg loop's `jne`)."""

    code: CodeT
    to: int


@dataclass(frozen=True, slots=True)
class Fwd:
    """A jump to item `to` of the same sequence, later than itself; `to` = the sequence's
    length jumps past its end (do_jit's EMIT2(X86_JA, 6) in the tail-call prologue, and the
    tail call's jumps to `out`, whose offsets the kernel computes from the code it emits).
    rel8 for a short code, rel32 for JMP_REL32_64 (emit_jump)."""

    code: CodeT
    to: int


@dataclass(frozen=True, slots=True)
class CallTo:
    """`call rel32` to an absolute address (emit_call)."""

    target: int


@dataclass(frozen=True, slots=True)
class JumpTo:
    """`jmp rel32` to an absolute address (emit_jump, e.g. to the return thunk)."""

    target: int


Item = Instruction | Branch | Back | Fwd | CallTo | JumpTo


class JitError(FrameworkError):
    """An instruction the x86 JIT does not accept (Linux would fail with -EINVAL/-EFAULT)."""

    def __init__(self, pc: int, message: str) -> None:
        super().__init__(f"pc {pc}: {message}")
        self.pc = pc
        self.message = message


class Resolver(Protocol):
    """Addresses the JIT cannot know itself: helper and kfunc entry points (the
    machine's trap stubs), the `callx` stub, and ld_imm64 pseudo values (maps, BTF ids)."""

    def __call__(self, pc: int, insn: Insn) -> int: ...


class Ctx(Protocol):
    """What a lowering needs from the pass driver (do_jit's locals and jit_context)."""

    addrs: list[int]  # previous pass: addrs[k] = native offset where local slot k starts
    start: int  # first pc of this subprog
    proglen: int  # offset of this instruction in the current pass
    cleanup_addr: int
    seen_exit: bool
    bmi2: bool
    callee_regs: tuple[int, ...]  # BPF registers pushed after the frame (in push order)
    exception_boundary: bool
    return_thunk: int | None  # emit_return: jmp to the return thunk, or a plain ret
    indirect_thunk: int | None  # emit_indirect_jump: jmp to the rcx thunk, or `jmp rcx; int3`
    stack_depth: int  # the subprog's stack depth (tail calls free it and find the counter below it)
    tail_call_reachable: bool  # the frame holds the tail-call counter slots (emit_prologue_tail_call)
    tail_calls: Mapping[int, int]  # pc -> BPF_TAIL_CALL's imm: poke index + 1 (direct), 0 (indirect)

    def subprog_address(self, pc: int) -> int:
        """The address of the subprog starting at `pc`."""

    def resolve(self, pc: int, insn: Insn) -> int:
        """A helper/kfunc/callx address or an ld_imm64 pseudo value (a `Resolver`)."""
