"""Our JIT's code against the running kernel's, BPF instruction by BPF instruction.

The kernel's jited line info maps some xlated pcs to native offsets; between two
such records lies a span of BPF instructions and of native bytes. Our image maps
every pc. Within a span, instructions are matched from the front and from the
back, one BPF instruction's x86 sequence at a time; what is left in the middle
differs. x86 instructions are compared byte for byte except where addresses
differ by construction: rel32 calls and jumps leaving the function (helpers,
kfuncs, the return thunk, other subprogs) by opcode, and 64-bit kernel pointers
in movabs by opcode and register. Every differing BPF instruction gets a cause.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from iced_x86 import Code, Decoder

from framework.fixup import Fixed, fixup_planned
from framework.isa import opcodes as op
from framework.isa.insn import Insn
from framework.isa.opcodes import Kind
from framework.jit import NativeImage, jit, subprog_specs
from framework.jit.compile import RETURN_THUNK
from framework.load.program import Program
from framework.machine import StubResolver
from framework.oracle.record import KernelRecord, image_offsets
from framework.oracle.rethunk import uses_return_thunk
from framework.plan import Plan, baseline
from framework.verify.regs import RT

KERNEL_POINTER = 0xFFFF_8880_1000_0000  # map and ksym addresses as the kernel's look (movabs)


@dataclass(frozen=True, slots=True)
class Difference:
    pc: int
    insn: str
    cause: str
    ours: tuple[str, ...]
    kernel: tuple[str, ...]


@dataclass(slots=True)
class Comparison:
    program: str
    total: int = 0
    same: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def share(self) -> float:
        return self.same / self.total if self.total else 1.0


class _Resolver(StubResolver):
    def __call__(self, pc: int, insn: Insn) -> int:
        if insn.kind is Kind.LD_IMM64:
            return KERNEL_POINTER + 0x1000 * (insn.imm & 0xFF) + (insn.imm_hi & 0xFFF)
        return StubResolver.__call__(self, pc, insn)


def kernel_return_thunk(kernel_image: bytes) -> int | None:
    """Where our JIT's epilogues should return through to match the host kernel's image: its
    return thunk or a plain `ret` (emit_return follows the CPU: framework.oracle.rethunk)."""
    return RETURN_THUNK if uses_return_thunk(kernel_image) else None


def our_image(
    program: Program, depths: Sequence[int], return_thunk: int | None = RETURN_THUNK
) -> tuple[Plan, Fixed, NativeImage]:
    """The program as stock's JIT gets it: its baseline plan (the verifier's record), fixed up, JITed."""
    made = baseline(program)
    fixed = fixup_planned(made, program)
    prog = fixed.program
    image = jit(
        prog.slots,
        subprog_specs(fixed),
        stack_depths=list(depths),
        resolver=_Resolver(),
        return_thunk=return_thunk,
        tail_calls=dict(fixed.tail_calls),
    )
    return made, fixed, image


def _keys(code: bytes, ip: int, lo: int, hi: int) -> list[str]:
    """Normalised x86 instructions of `code` at address `ip` inside a function [lo, hi)."""
    out = []
    for ins in Decoder(64, code, ip=ip):
        raw = code[ins.ip - ip : ins.ip - ip + ins.len]
        if ins.len == 5 and raw[0] in (0xE8, 0xE9) and not lo <= ins.near_branch_target < hi:
            out.append(f"{raw[:1].hex()} <out>")
        elif ins.code == Code.MOV_R64_IMM64 and ins.immediate64 >= 1 << 63:
            out.append(f"{raw[:2].hex()} <kernel pointer>")
        else:
            out.append(raw.hex())
    return out


PROBE_MEM_GUARD = "49c7c2000060ff"  # mov r10, VSYSCALL_ADDR: emit_ldx's BPF_PROBE_MEM address check


def _cause(
    insn: Insn | None,
    kernel_pcs: int,
    our_pcs: int,
    kernel: tuple[str, ...] = (),
    through: RT | None = None,
) -> str:
    """Why one BPF instruction's x86 differs (the first rule that applies); `through` is the pointer
    type the verifier saw at a load or store."""
    if through is RT.SOCKET:
        return ("bpf_sock field: the kernel converts loads through a socket pointer to struct sock "
                "(bpf_sock_convert_ctx_access); the emulated sockets are struct bpf_sock on both engines")  # fmt: skip
    if PROBE_MEM_GUARD in kernel:
        return "BPF_PROBE_MEM: the kernel guards loads through PTR_TO_BTF_ID (verifier pointer types)"
    if kernel_pcs != our_pcs:
        return f"fixup differs: the kernel's program has {kernel_pcs} instructions, ours {our_pcs}"
    if insn is None:
        return "unknown"
    if insn.kind is Kind.LD_IMM64 and insn.src == op.PSEUDO_FUNC:
        return "function address: lower-half 5-byte mov where the kernel's 0xffffffff... takes 7 bytes"
    if insn.kind in (Kind.JA, Kind.JCOND):
        return "jump displacement across a differing instruction"
    return "unknown"


def compare(program: Program, rec: KernelRecord) -> Comparison:
    """Per BPF instruction (xlated pcs, the kernel's numbering), same x86 or not, and why not."""
    made, fixed, image = our_image(program, rec.stack_depth, kernel_return_thunk(rec.jited_image))
    prog = fixed.program
    record = made.record
    result_through = {pc: record.at(fixed.original_pc(pc)).ptr_type for pc in range(len(prog.slots))}
    kernel_pcs = (rec.bytes_xlated or 0) // 8
    result = Comparison(program.name)
    # pc -> offset in the kernel's image, from the kernel's line records (xlated pcs: ours, when
    # the fixup stage rewrote as the kernel did; otherwise every difference says so)
    lines = dict(image_offsets(rec))
    k_at = 0
    for frame, length in zip(image.frames, rec.jited_func_lens, strict=False):
        k_lo, k_hi = k_at, k_at + length
        k_at += length
        kcode = rec.jited_image[k_lo:k_hi]
        pcs = [pc for pc in range(frame.start_pc, frame.end_pc) if prog.slots[pc] is not None]
        # spans: [first pc, next recorded pc); the first starts at the function's first byte
        starts = [pc for pc in pcs if pc in lines and k_lo < lines[pc] < k_hi]
        bounds = [(frame.start_pc, k_lo)] + [(pc, lines[pc]) for pc in starts]
        for i, (pc_a, k_a) in enumerate(bounds):
            pc_b, k_b = bounds[i + 1] if i + 1 < len(bounds) else (frame.end_pc, k_hi)
            group = [pc for pc in pcs if pc_a <= pc < pc_b]
            ours: list[list[str]] = []
            for j, pc in enumerate(group):
                a = frame.entry if j == 0 and pc_a == frame.start_pc else image.native_offset(pc)
                end = image.pc_ends[pc]
                assert end is not None
                ours.append(_keys(image.code[a:end], image.base + a, image.base + frame.entry, image.base + frame.end))
            theirs = _keys(kcode[k_a - k_lo : k_b - k_lo], k_a, k_lo, k_hi)
            _match(result, prog, group, ours, theirs, kernel_pcs, len(prog.slots), result_through)
    return result


def _match(
    result: Comparison,
    prog: Program,
    group: list[int],
    ours: list[list[str]],
    theirs: list[str],
    kernel_pcs: int,
    our_pcs: int,
    through: dict[int, RT | None],
) -> None:
    front, at = 0, 0
    while front < len(group) and theirs[at : at + len(ours[front])] == ours[front]:
        at += len(ours[front])
        front += 1
    back, end = len(group), len(theirs)
    while (
        back > front and end - len(ours[back - 1]) >= at and theirs[end - len(ours[back - 1]) : end] == ours[back - 1]
    ):
        end -= len(ours[back - 1])
        back -= 1
    if front == back and at < end and back < len(group):  # kernel code left over: the next pc's prefix
        end += len(ours[back])
        back += 1
    result.total += len(group)
    result.same += front + (len(group) - back)
    left = tuple(theirs[at:end])
    # in between: a pc whose sequence appears, in order, between the unmatched ones is the same too
    middle, cursor = [], at
    for j in range(front, back):
        n = len(ours[j])
        found = next((k for k in range(cursor, end - n + 1) if theirs[k : k + n] == ours[j]), None)
        first_or_last = j in (front, back - 1)
        if found is not None and not first_or_last:
            result.same += 1
            cursor = found + n
        else:
            middle.append(j)
    for j in middle:
        pc = group[j]
        insn = prog.slots[pc]
        result.differences.append(
            Difference(
                pc,
                insn.spec.name if insn else "?",
                _cause(insn, kernel_pcs, our_pcs, left, through.get(pc)),
                tuple(ours[j]),
                left if j == front else (),
            )
        )
