"""A run input's prog_array slots filled on the live kernel before BPF_PROG_TEST_RUN.

Each program a slot names is loaded beside the caller sharing the caller's maps (one
object's programs share its maps, as libbpf creates them), and its fd stored in the slot
with BPF_MAP_UPDATE_ELEM (kernel: prog_fd_array_get_ptr checks the program is compatible).
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Iterator, Sequence

from framework.errors import InternalError
from framework.load.prog_array import ProgArraySlot, targets
from framework.oracle import bpf_syscall as sys_
from framework.oracle.loader import Loaded, load

__all__ = ["filled"]


@contextlib.contextmanager
def filled(caller: Loaded, slots: Sequence[ProgArraySlot]) -> Iterator[None]:
    """Fill `slots` of `caller`'s prog arrays while the block runs; the targets close after it."""
    if caller.prog is None:
        raise InternalError(f"{caller.program.name}: no program to fill the prog array of")
    with contextlib.ExitStack() as stack:
        fds = {caller.program.name: caller.prog}
        for name, program in targets(caller.program, slots).items():
            if name in fds:
                continue
            loaded = stack.enter_context(load(program, shared=caller))
            if loaded.prog is None:
                raise InternalError(f"tail-call target {name} is refused: {loaded.log[-500:]}")
            fds[name] = loaded.prog
        for slot in slots:
            sys_.map_update(
                caller.map_fd(slot.map), struct.pack("<I", slot.index), struct.pack("<I", fds[slot.program].fd)
            )
        yield
