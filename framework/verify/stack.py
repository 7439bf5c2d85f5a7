"""Stack slots as `struct bpf_stack_state` keeps them: 8 bytes, each with a slot type.

Slot types use the log's letters: '?' STACK_INVALID, 'm' STACK_MISC, '0' STACK_ZERO,
'r' STACK_SPILL, 'i' STACK_ITER, 'd' STACK_DYNPTR.
"""

from __future__ import annotations

from dataclasses import dataclass

from framework.verify.regs import RT, Reg
from framework.verify.regs import render as render_reg

INVALID, MISC, ZERO, SPILL, ITER, DYNPTR = "?", "m", "0", "r", "i", "d"
SLOT_SIZE = 8


@dataclass(frozen=True, slots=True)
class Slot:
    types: str = INVALID * SLOT_SIZE  # slot_type[0..7], byte 0 is the lowest address
    spilled: Reg | None = None

    @property
    def is_spill(self) -> bool:
        return self.types == SPILL * SLOT_SIZE and self.spilled is not None

    @property
    def special(self) -> bool:
        return self.types[0] in (ITER, DYNPTR)


EMPTY = Slot()


def slot_index(off: int) -> int:
    """fp-1..fp-8 is slot 0 (the kernel's spi)."""
    return (-off - 1) // SLOT_SIZE


def render_slots(stack: dict[int, Slot]) -> list[str]:
    """print_verifier_state's stack part: `fp-8=mmmm????`, `fp-8_w=ptr`, iterators, dynptrs."""
    out = []
    for spi in sorted(stack):
        s = stack[spi]
        if s.types == INVALID * SLOT_SIZE:
            continue
        where = f"fp{-(spi + 1) * SLOT_SIZE}"
        if s.is_spill and s.spilled is not None:
            out.append(f"{where}={render_reg(s.spilled)}")
        elif s.types[0] == ITER and s.spilled is not None:
            state = "active" if s.spilled.iter_active else "drained"
            out.append(f"{where}=iter_num(ref_id={s.spilled.ref_obj_id},state={state},depth={s.spilled.iter_depth})")
        elif s.types[0] == DYNPTR and s.spilled is not None and s.spilled.type is RT.DYNPTR:
            out.append(f"{where}=dynptr_ringbuf(ref_id={s.spilled.ref_obj_id})")
        elif s.types[0] == DYNPTR:
            continue
        else:
            out.append(f"{where}={s.types[::-1]}")
    return out
