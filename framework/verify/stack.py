"""Stack slots as `struct bpf_stack_state` keeps them: 8 bytes, each with a slot type.

Slot types use the log's letters: '?' STACK_INVALID, 'm' STACK_MISC, '0' STACK_ZERO,
'r' STACK_SPILL, 'i' STACK_ITER, 'd' STACK_DYNPTR. `types[j]` is the kernel's
slot_type[j]: j = 7 is the slot's lowest address (fp-8 of slot 0), j = 0 its highest.
"""

from __future__ import annotations

from dataclasses import dataclass

from framework.verify.regs import Reg

INVALID, MISC, ZERO, SPILL, ITER, DYNPTR = "?", "m", "0", "r", "i", "d"
SLOT_SIZE = 8


@dataclass(frozen=True, slots=True)
class Slot:
    types: str = INVALID * SLOT_SIZE  # slot_type[0..7]
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
