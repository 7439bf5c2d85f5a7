"""The verifier state as `struct bpf_verifier_state` keeps it: frames, references, lock counts.

States are mutable while one path is walked and copied (`State.copy`) when a
branch is pushed, as push_stack copies env->cur_state.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from framework.verify.regs import NOT_INIT, Reg, stack_ptr
from framework.verify.stack import Slot

MAX_CALL_FRAMES = 8  # kernel: MAX_CALL_FRAMES
MAX_BPF_STACK = 512  # include/linux/filter.h


class RefKind(enum.Enum):
    """enum ref_state_type."""

    PTR = "ptr"
    LOCK = "lock"
    IRQ = "irq"


@dataclass(frozen=True, slots=True)
class Ref:
    """struct bpf_reference_state."""

    kind: RefKind
    id: int
    insn_idx: int
    resource: str = ""  # what it is: obj, ringbuf, socket, task, cgroup, iter_num, dynptr...
    ptr: int = 0  # a lock's allocation (framework.verify.graph.lock_ptr); its id is the pointer's id


@dataclass(slots=True)
class Frame:
    """struct bpf_func_state."""

    frameno: int
    subprog: int
    callsite: int = -1
    regs: list[Reg] = field(default_factory=lambda: [NOT_INIT] * 11)
    stack: dict[int, Slot] = field(default_factory=dict)
    allocated: int = 0  # bytes of stack this frame has grown to (grow_stack_state)
    in_callback: bool = False
    callback_ret: tuple[int, int] = (0, 0)
    in_exception_cb: bool = False
    callback_depth: int = 0
    in_async_cb: bool = False  # in_async_callback_fn: frame 0 of a timer callback's own walk

    def copy(self) -> Frame:
        return Frame(
            self.frameno,
            self.subprog,
            self.callsite,
            list(self.regs),
            dict(self.stack),
            self.allocated,
            self.in_callback,
            self.callback_ret,
            self.in_exception_cb,
            self.callback_depth,
            self.in_async_cb,
        )


@dataclass(slots=True)
class State:
    """struct bpf_verifier_state: the call chain, references and section counters."""

    frames: list[Frame]
    refs: list[Ref] = field(default_factory=list)
    active_locks: int = 0
    active_rcu_lock: int = 0
    active_preempt_locks: int = 0
    active_irq_id: int = 0
    pc: int = 0
    global_throw: bool = False  # this branch takes a global call's throw path
    may_goto_depth: int = 0
    callback_unroll_depth: int = 0
    parent: object = None  # the checkpoint this path descends from (prune.Checkpoint)
    # what this path executed since that checkpoint: (pc, aux), the kernel's jmp_history kept
    # for every instruction (precision.py reads it)
    history: list[tuple[int, object]] = field(default_factory=list)
    from_pc: int = -1  # the instruction that queued this path (the log's `from X to Y`)

    @property
    def cur(self) -> Frame:
        return self.frames[-1]

    @property
    def curframe(self) -> int:
        return len(self.frames) - 1

    def copy(self) -> State:
        return State(
            [f.copy() for f in self.frames],
            list(self.refs),
            self.active_locks,
            self.active_rcu_lock,
            self.active_preempt_locks,
            self.active_irq_id,
            self.pc,
            self.global_throw,
            self.may_goto_depth,
            self.callback_unroll_depth,
            self.parent,
            list(self.history),
        )

    def ref(self, ref_id: int) -> Ref | None:
        return next((r for r in self.refs if r.id == ref_id), None)

    def all_regs(self) -> list[tuple[Frame, int | None, int | None, Reg]]:
        """Every register and spilled register: (frame, regno, spi, reg)."""
        out: list[tuple[Frame, int | None, int | None, Reg]] = []
        for f in self.frames:
            out.extend((f, i, None, r) for i, r in enumerate(f.regs))
            out.extend((f, None, spi, s.spilled) for spi, s in f.stack.items() if s.spilled is not None)
        return out

    def map_regs(self, fn: object) -> None:
        """Apply fn(reg) -> reg to every register and spilled register in every frame."""
        assert callable(fn)
        for f in self.frames:
            f.regs[:] = [fn(r) for r in f.regs]  # in place: callers may hold the list
            for spi, s in list(f.stack.items()):
                if s.spilled is not None:
                    f.stack[spi] = Slot(s.types, fn(s.spilled))


def entry_frame(frameno: int, subprog: int, callsite: int = -1) -> Frame:
    # kernel: init_func_state
    f = Frame(frameno, subprog, callsite)
    f.regs[10] = stack_ptr(frameno)
    return f
