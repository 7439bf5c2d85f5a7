"""`NativeImage`: the JIT's output, with the BPF pc <-> native offset map and frame layouts."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from iced_x86 import Decoder, FlowControl


@dataclass(frozen=True, slots=True)
class FrameLayout:
    """How one subprog's frame looks after its prologue (emit_prologue + do_jit's pushes).

    Offsets are relative to the frame's rbp (BPF R10): the BPF stack is
    [rbp - stack_size, rbp); in a tail-call-reachable frame the counter's two slots
    follow; then the callee-saved registers, pushed in `pushed` order, so `pushed[i]`
    is saved at rbp - push_base - 8 * (i + 1).
    """

    subprog: int
    name: str
    start_pc: int
    end_pc: int
    entry: int  # native offset of the first prologue byte in the image
    body: int  # native offset just after the prologue (addrs[0] in do_jit)
    end: int  # native offset one past the subprog's last byte
    stack_depth: int  # as given (the verifier's stack depth)
    stack_size: int  # round_up(stack_depth, 8): what `sub rsp` reserves
    pushed: tuple[str, ...]  # x86 registers pushed after `sub rsp`, in push order
    exception_boundary: bool
    exception_cb: bool
    tail_call_slots: int = 0  # 16 in a tail-call-reachable frame: the counter and its pointer, below the stack
    tail_entry: int = 0  # native offset where a tail call into this program lands (X86_TAIL_CALL_OFFSET)

    @property
    def push_base(self) -> int:
        """How far below rbp the callee-saved pushes start (`pushed[i]` at rbp - push_base - 8 * (i + 1))."""
        return self.stack_size + self.tail_call_slots

    @property
    def rsp_below_entry(self) -> int:
        """Bytes rsp sits below the rsp at entry once the prologue is done.

        The return address is at the entry rsp; `push rbp` takes 8 more (none for
        the exception callback, which reuses the boundary's frame)."""
        return (0 if self.exception_cb else 8) + self.push_base + 8 * len(self.pushed)


@dataclass(frozen=True, slots=True)
class PokeSite:
    """A direct tail call's patch sites (struct bpf_jit_poke_descriptor), native offsets: the
    bypass `jmp` to the fall-through, and the 5-byte nop that becomes `jmp` to the target."""

    pc: int
    bypass: int  # poke->tailcall_bypass
    target: int  # poke->tailcall_target


@dataclass(frozen=True, slots=True)
class NativeImage:
    """x86-64 code for a whole program: every subprog JITed as Linux JITs it, laid end to end."""

    code: bytes
    base: int  # address the code was laid out for (calls are rel32 against it)
    frames: tuple[FrameLayout, ...]  # one per subprog, in the program's order
    pc_offsets: tuple[int | None, ...]  # by BPF pc: native offset of its first byte; None for ld_imm64's 2nd slot
    pc_ends: tuple[int | None, ...]  # by BPF pc: native offset one past its last byte
    passes: tuple[int, ...]  # do_jit passes until each subprog's size converged
    counter: int | None = None  # address every block adds its instruction count to (None: no counters)
    pokes: tuple[PokeSite, ...] = ()  # per direct tail call, in poke_tab's order
    _starts: tuple[tuple[int, int], ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        starts = sorted((o, pc) for pc, o in enumerate(self.pc_offsets) if o is not None)
        object.__setattr__(self, "_starts", tuple(starts))

    @property
    def entries(self) -> tuple[int, ...]:
        return tuple(f.entry for f in self.frames)

    def address(self, offset: int) -> int:
        return self.base + offset

    def native_offset(self, pc: int) -> int:
        off = self.pc_offsets[pc]
        if off is None:
            raise ValueError(f"pc {pc} is the second slot of ld_imm64")
        return off

    def pc_at(self, offset: int) -> int | None:
        """The BPF pc whose code holds native `offset`; None inside a prologue or padding."""
        starts = self._starts
        i = bisect.bisect_right(starts, (offset, len(self.pc_offsets))) - 1
        while i >= 0:
            o, pc = starts[i]
            end = self.pc_ends[pc]
            if end is not None and o <= offset < end:
                return pc
            if end is not None and end > o:
                return None
            i -= 1  # an instruction that emits no code (e.g. a jump to the next pc)
        return None

    def return_offset(self, pc: int) -> int:
        """The native offset a call at BPF `pc` returns to: just past its x86 `call`."""
        start, end = self.native_offset(pc), self.pc_ends[pc]
        assert end is not None
        after = [i.next_ip for i in Decoder(64, self.code[start:end], ip=start) if i.flow_control == FlowControl.CALL]
        if not after:
            raise ValueError(f"pc {pc} emits no call")
        return int(after[-1])

    def frame_at(self, offset: int) -> FrameLayout | None:
        for frame in self.frames:
            if frame.entry <= offset < frame.end:
                return frame
        return None
