"""Ask the live kernel which context accesses each modelled program type allows.

For a program type and an (offset, size, direction), load `r0 = *(size *)(r1 + off)` (a read)
or `r2 = 0; *(size *)(r1 + off) = r2` (a write), then `r0 = 1; exit`. The kernel's
`check_ctx_access` asks the type's `is_valid_access` and refuses with `invalid bpf_context
access off=N size=S`; acceptance means the callback allowed it. The verifier's context table
(framework.platform.contexts) is held to these answers by the tests.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from framework.oracle.bpf_syscall import ATTACH_TYPES, PROG_TYPES, ProgLoadAttr, prog_load

__all__ = ["Access", "accesses", "allowed", "program_bytes"]

REFUSAL = "invalid bpf_context access"  # check_ctx_access -> verbose
_SIZES = {1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18}  # BPF_B, BPF_H, BPF_W, BPF_DW


@dataclass(frozen=True, slots=True)
class Access:
    off: int
    size: int
    write: bool


def program_bytes(a: Access) -> bytes:
    """The probe program for access `a`, as BPF_PROG_LOAD takes it."""
    mode = _SIZES[a.size] | 0x60  # BPF_MEM
    write = [(0xB7, 0x02, 0, 0), (mode | 0x03, 0x21, a.off, 0)]  # r2 = 0; *(size *)(r1 + off) = r2
    read = [(mode | 0x01, 0x10, a.off, 0)]  # r0 = *(size *)(r1 + off)
    # r0 = 1 (a return every type's check_return_code takes: getpeername hooks want exactly 1); exit
    body = (write if a.write else read) + [(0xB7, 0x00, 0, 1), (0x95, 0x00, 0, 0)]
    return b"".join(struct.pack("<BBhi", code, regs, off, imm) for code, regs, off, imm in body)


def allowed(prog_type: str, a: Access, attach: str | None = None) -> bool:
    """Whether the running kernel loads `prog_type` program (of expected attach type `attach`)
    making access `a` to its context."""
    expected = ATTACH_TYPES[attach] if attach is not None else 0
    attr = ProgLoadAttr(PROG_TYPES[prog_type], program_bytes(a), expected_attach_type=expected, log_level=1)
    result = prog_load(attr)
    if result.fd is not None:
        result.fd.close()
        return True
    if REFUSAL not in result.log:
        raise OSError(result.errno, f"{prog_type} {a}: refused for another reason: {result.log[-200:]!r}")
    return False


def accesses(size: int, *, offsets: range | None = None) -> Iterator[Access]:
    """Every aligned-or-not (offset, size, direction) within a context of `size` bytes and just past it."""
    for off in offsets if offsets is not None else range(-4, size + 8):
        for width in _SIZES:
            for write in (False, True):
                yield Access(off, width, write)
