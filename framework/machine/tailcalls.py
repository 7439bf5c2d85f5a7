"""Tail calls on the machine: each target JITed on its own beside the caller, the prog arrays
and programs in memory as the JIT's loads read them, and the direct tail calls patched.

- Each tail-call target is a program of its own, as the kernel loads and JITs it (its own
  fixup, frames, exception callback and strategy table); its image follows the caller's, and
  the machine runs the images as one (`LinkedImage.image`: the caller's pcs first, then each
  target's, shifted by `pc_base`).
- A prog array's map pointer is an emulated `struct bpf_array`: `map.max_entries` and
  `ptrs[]` at the live kernel's offsets (framework.platform.tailcall), each filled slot
  pointing at an emulated `struct bpf_prog` whose `bpf_func` makes `bpf_func +
  X86_TAIL_CALL_OFFSET` the target's tail-call entry (in an image with counters the
  prologue is longer, and `bpf_func` is moved so the same `add rcx, 12` lands there).
- A direct tail call (a poke descriptor) is patched as map_poke_run patches it when a slot
  is filled: the 5-byte nop becomes `jmp` to the target's tail-call entry, the bypass `jmp`
  a 5-byte nop (bpf_arch_text_poke); an empty slot leaves both as the JIT emitted them.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from iced_x86 import Code, Encoder, Instruction

from framework.fixup import Fixed
from framework.jit import NativeImage, PokeSite
from framework.jit.image import FrameLayout
from framework.kernel.api import NotEmulated
from framework.kernel.services import EmulatedKernel
from framework.platform.tailcall import BPF_ARRAY_MAX_ENTRIES, BPF_ARRAY_PTRS, BPF_PROG_BPF_FUNC, X86_TAIL_CALL_OFFSET

__all__ = [
    "PROGS",
    "PROG_ARRAYS",
    "TABLE_STRIDE",
    "LinkedImage",
    "Part",
    "TableFor",
    "Target",
    "kfunc_names",
    "link_images",
    "prog_array_addresses",
]

TableFor = Callable[[Fixed, NativeImage, int], bytes]  # (fixed, image, address the table is mapped at)

PROG_ARRAYS = 0x0700_0000  # the emulated struct bpf_array of prog_array map k at PROG_ARRAYS + ARRAY_STRIDE * k
ARRAY_STRIDE = 0x1_0000
PROGS = 0x0780_0000  # the emulated struct bpf_prog of program k (the caller 0) at PROGS + PROG_STRIDE * k
PROG_STRIDE = 0x1000  # a page each: the machine maps whole pages
TABLE_STRIDE = 0x10_0000  # target k's strategy table at STRATEGY_TABLE + TABLE_STRIDE * (k + 1)
_NOP5 = bytes.fromhex("0f1f440000")  # x86_nops[5], what bpf_arch_text_poke writes for a NULL target


@dataclass(frozen=True, slots=True)
class Target:
    """A tail-call target, fixed on its own, and how its strategy table is made (None: none)."""

    name: str
    fixed: Fixed
    table_for: TableFor | None = None


@dataclass(frozen=True, slots=True)
class Part:
    """One program of a linked image: where its code and pcs start, and its own parts."""

    name: str
    fixed: Fixed
    lo: int  # its code [lo, hi) in the linked image (native offsets)
    hi: int
    pc_base: int  # its pc 0 is the linked image's pc `pc_base`
    main: FrameLayout  # its main subprog's frame, in the linked image
    cb: FrameLayout | None  # its exception callback's
    table: bytes  # its strategy table, mapped at `table_address`
    table_address: int


@dataclass(frozen=True, slots=True)
class LinkedImage:
    """The caller and its tail-call targets as one image, and what the machine maps beside it."""

    image: NativeImage  # pokes patched for the slots filled
    programs: tuple[Part, ...]  # the caller first
    regions: tuple[tuple[str, int, bytes], ...]  # (name, address, bytes): prog arrays and programs
    kfuncs: tuple[str, ...]  # the kfunc names of every program, by stub index

    def program_of(self, pc: int) -> Part:
        """The program holding linked pc `pc`."""
        return next(p for p in reversed(self.programs) if p.pc_base <= pc)

    def original_pc(self, pc: int) -> int:
        """The pc, before its program's fixup, of linked pc `pc`."""
        p = self.program_of(pc)
        return p.fixed.original_pc(pc - p.pc_base)


def kfunc_names(fixed: Fixed, targets: Sequence[Target]) -> tuple[str, ...]:
    """One kfunc list for the machine's stubs: the caller's, then what each target adds."""
    names = list(fixed.program.kfuncs)
    for t in targets:
        names += [n for n in t.fixed.program.kfuncs if n not in names]
    return tuple(names)


def prog_array_addresses(kernel: EmulatedKernel) -> dict[int, int]:
    """map index -> the address of its emulated struct bpf_array, for every prog_array map."""
    return {
        k: PROG_ARRAYS + ARRAY_STRIDE * k for k, state in enumerate(kernel.maps) if state.mdef.map_type == "prog_array"
    }


def link_images(
    fixed: Fixed,
    image: NativeImage,
    table: bytes,
    targets: Sequence[tuple[Target, NativeImage, bytes, int]],
    slots: Mapping[int, Mapping[int, str]],
    kfuncs: Sequence[str],
    kernel: EmulatedKernel,
    table_address: int,
) -> LinkedImage:
    """The caller's image with each target's after it (each JITed at its address), the prog
    arrays `slots` fills (map index -> slot -> program name), and the pokes patched."""
    parts = [(fixed.program.name, fixed, image, table, table_address)]
    parts += [(t.name, t.fixed, timage, ttable, address) for t, timage, ttable, address in targets]
    code = bytearray()
    frames: list[FrameLayout] = []
    pc_offsets: list[int | None] = []
    pc_ends: list[int | None] = []
    passes: list[int] = []
    pokes: list[tuple[str, int, PokeSite]] = []
    programs: list[Part] = []
    for name, pfixed, pimage, ptable, paddress in parts:
        delta = pimage.base - image.base
        code += b"\xcc" * (delta - len(code)) + pimage.code  # int3 between images
        shifted = [_shift(f, delta) for f in pimage.frames]
        pc_base = len(pc_offsets)
        pc_offsets += [None if o is None else o + delta for o in pimage.pc_offsets]
        pc_ends += [None if o is None else o + delta for o in pimage.pc_ends]
        passes += pimage.passes
        pokes += [(name, k, dataclasses.replace(s, pc=s.pc + pc_base, bypass=s.bypass + delta, target=s.target + delta))
                  for k, s in enumerate(pimage.pokes)]  # fmt: skip
        frames += shifted
        cb = next((f for f in shifted if f.exception_cb), None)
        programs.append(Part(name, pfixed, delta, delta + len(pimage.code), pc_base, shifted[0], cb, ptable, paddress))
    by_name = {p.name: (k, p) for k, p in enumerate(programs)}
    regions = []
    for k, p in enumerate(programs):  # struct bpf_prog: bpf_func + X86_TAIL_CALL_OFFSET is the tail-call entry
        entry = image.base + p.main.tail_entry - X86_TAIL_CALL_OFFSET
        regions.append((f"bpf_prog {p.name}", PROGS + PROG_STRIDE * k, _bpf_prog(entry)))
    for index, address in prog_array_addresses(kernel).items():
        mdef = kernel.maps[index].mdef
        filled = slots.get(index, {})
        for name in filled.values():
            if name not in by_name:
                raise NotEmulated(f"prog_array {mdef.name} holds {name}, which the run did not JIT")
        ptrs = {i: PROGS + PROG_STRIDE * by_name[n][0] for i, n in filled.items()}
        regions.append((f"prog_array {mdef.name}", address, _bpf_array(mdef.name, mdef.max_entries, ptrs)))
    for name, k, site in pokes:  # map_poke_run, for each slot filled before the run
        pfixed = by_name[name][1].fixed
        map_index, key = pfixed.pokes[k]
        target = slots.get(map_index, {}).get(key)
        if target is not None:
            entry = by_name[target][1].main.tail_entry
            code[site.target : site.target + 5] = _jmp(image.base + site.target, image.base + entry)
            code[site.bypass : site.bypass + 5] = _NOP5
    linked = NativeImage(
        bytes(code),
        image.base,
        tuple(frames),
        tuple(pc_offsets),
        tuple(pc_ends),
        tuple(passes),
        image.counter,
        tuple(site for _n, _k, site in pokes),
    )
    return LinkedImage(linked, tuple(programs), tuple(regions), tuple(kfuncs))


def _shift(frame: FrameLayout, delta: int) -> FrameLayout:
    return dataclasses.replace(
        frame,
        entry=frame.entry + delta,
        body=frame.body + delta,
        end=frame.end + delta,
        tail_entry=frame.tail_entry + delta,
    )


def _bpf_prog(bpf_func: int) -> bytes:
    """An emulated struct bpf_prog: only `bpf_func`, which the tail call reads."""
    out = bytearray(PROG_STRIDE)
    out[BPF_PROG_BPF_FUNC : BPF_PROG_BPF_FUNC + 8] = struct.pack("<Q", bpf_func)
    return bytes(out)


def _bpf_array(name: str, max_entries: int, ptrs: Mapping[int, int]) -> bytes:
    """An emulated struct bpf_array of a prog array: `map.max_entries` and `ptrs[]`."""
    size = BPF_ARRAY_PTRS + 8 * max_entries
    if size > ARRAY_STRIDE:
        raise NotEmulated(f"prog_array {name}: {max_entries} entries do not fit the machine's emulated bpf_array")
    out = bytearray(size)
    out[BPF_ARRAY_MAX_ENTRIES : BPF_ARRAY_MAX_ENTRIES + 4] = struct.pack("<I", max_entries)
    for i, prog in ptrs.items():
        out[BPF_ARRAY_PTRS + 8 * i : BPF_ARRAY_PTRS + 8 * i + 8] = struct.pack("<Q", prog)
    return bytes(out)


def _jmp(at: int, target: int) -> bytes:
    """`jmp rel32` at `at` to `target` (what bpf_arch_text_poke writes for BPF_MOD_JUMP)."""
    enc = Encoder(64)
    enc.encode(Instruction.create_branch(Code.JMP_REL32_64, target), at)
    return bytes(enc.take_buffer())
