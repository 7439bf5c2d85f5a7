"""`Program`: one BPF program as libbpf would hand it to the kernel, and its parts.

Every stage after `load` reads a `Program`; nothing after `load` writes one
(strategies' `prepare` builds a new one with `dataclasses.replace`).

Encoding conventions, chosen so a `Program` is self-contained and valid BPF:
- a map reference is `ld_imm64` with src `BPF_PSEUDO_MAP_IDX` (or
  `BPF_PSEUDO_MAP_IDX_VALUE` for global data, offset in the second slot's imm)
  and imm = index into `Program.maps`: the kernel's fd_array encoding;
- a kfunc call has src `BPF_PSEUDO_KFUNC_CALL`, off 0 and imm = index into
  `Program.kfuncs`; the kernel loader rewrites imm to the running kernel's BTF id;
- BPF-to-BPF calls and `ld_imm64` of a function (src `BPF_PSEUDO_FUNC`) hold the
  pc-relative offset, as libbpf leaves them.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field

from framework.errors import InputError
from framework.isa.decode import Slots, iter_insns
from framework.isa.insn import Insn


class Linkage(enum.Enum):
    """BTF_FUNC_STATIC / BTF_FUNC_GLOBAL, as the kernel distinguishes subprogs."""

    STATIC = "static"
    GLOBAL = "global"


@dataclass(frozen=True, slots=True)
class Subprog:
    """A function of the program; subprogs[0] is the main program."""

    name: str
    start: int  # first pc
    end: int  # one past the last pc
    linkage: Linkage
    btf_id: int | None = None  # FUNC type id in the program's BTF
    is_exception_cb: bool = False


@dataclass(frozen=True, slots=True)
class MapDef:
    """A map: BTF-defined in `.maps`, or global data (`.data`, `.bss`, `.rodata*`)."""

    name: str
    map_type: str  # "array", "hash", "ringbuf", ...: the suffix of BPF_MAP_TYPE_*
    key_size: int
    value_size: int
    max_entries: int
    flags: int = 0
    section: str = ".maps"
    initial: bytes = b""  # initial value of global data
    btf_key_type_id: int = 0
    btf_value_type_id: int = 0
    btf_vmlinux_value_type_id: int = 0


@dataclass(frozen=True, slots=True)
class FuncInfo:
    """`struct bpf_func_info`: where a function starts and its BTF FUNC type."""

    pc: int
    type_id: int


@dataclass(frozen=True, slots=True)
class LineInfo:
    """`struct bpf_line_info` with its strings resolved."""

    pc: int
    file: str
    line: int
    col: int
    text: str


@dataclass(frozen=True, slots=True)
class CoreRelo:
    """`struct bpf_core_relo` (only the kinds the corpus needs are resolved)."""

    pc: int
    type_id: int
    access: str
    kind: int


@dataclass(frozen=True, slots=True)
class CleanupRange:
    """One `.bpf_cleanup` row (LLVM 23, "[BPF] Add exception handling support"): a call in
    [begin, end) that throws lands on the pad at `pad`, in the same frame."""

    begin: int
    end: int
    pad: int


@dataclass(frozen=True, slots=True)
class Program:
    """One loadable program, assembled as libbpf assembles it."""

    name: str
    section: str  # ELF section name, e.g. "tc"
    prog_type: str  # e.g. "sched_cls": the suffix of BPF_PROG_TYPE_*
    slots: Slots
    subprogs: tuple[Subprog, ...]
    source: str  # the file it came from, as given
    sha256: str  # of that file
    license: str = "GPL"
    expected_attach_type: str | None = None
    attach_to: str | None = None  # e.g. the fentry target, from the section name
    maps: tuple[MapDef, ...] = ()
    kfuncs: tuple[str, ...] = ()
    btf: bytes = b""  # the object's .BTF after libbpf's DATASEC fix-up (sizes, VAR offsets from the ELF)
    func_info: tuple[FuncInfo, ...] = ()
    line_info: tuple[LineInfo, ...] = ()
    core_relos: tuple[CoreRelo, ...] = ()
    symbols: dict[int, str] = field(default_factory=dict)  # pc -> label for listings
    cleanup: tuple[CleanupRange, ...] = ()  # landing pads (.bpf_cleanup), pcs in this program
    # a strategy's `prepare` output: per pc, the pc of the program as given (-1: what prepare emitted);
    # empty for a program as loaded
    origin: tuple[int, ...] = ()

    def given_pc(self, pc: int) -> int:
        """The pc of the program as given that `pc` of this one came from (-1: emitted by prepare)."""
        if not self.origin:
            return pc
        return self.origin[pc] if 0 <= pc < len(self.origin) else -1

    def insns(self) -> Iterator[tuple[int, Insn]]:
        return iter_insns(self.slots)

    @property
    def exception_cb(self) -> Subprog | None:
        return next((s for s in self.subprogs if s.is_exception_cb), None)

    def subprog_at(self, pc: int) -> Subprog:
        for sub in self.subprogs:
            if sub.start <= pc < sub.end:
                return sub
        raise IndexError(pc)


@dataclass(frozen=True, slots=True)
class LoadFailure:
    """A program of an object that could not be loaded on its own (its error), beside those that could."""

    name: str
    section: str
    error: InputError


def strict(items: tuple[Program | LoadFailure, ...]) -> tuple[Program, ...]:
    """The programs, or the first failure raised."""
    for item in items:
        if isinstance(item, LoadFailure):
            raise item.error
    return tuple(item for item in items if isinstance(item, Program))
