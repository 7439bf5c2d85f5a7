"""The pass driver: Linux's bpf_int_jit_compile / do_jit / jit_subprogs, over iced-x86.

Each subprog is JITed on its own, as jit_subprogs does (own prologue, own
callee-saved set, own stack depth), in passes: the first assumes 64 bytes per
instruction, every pass computes jump displacements from the previous pass's
`addrs`, picks rel8 when `is_imm8_jmp_offset`, and the loop stops when the layout
no longer changes. The subprogs are then laid end to end and encoded once more
with the real call targets (calls are always rel32, so sizes do not move).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from iced_x86 import Code, Decoder, Encoder, Instruction
from iced_x86 import Register as _R

from framework.fixup import Fixed
from framework.isa.decode import Slots
from framework.isa.insn import Insn
from framework.isa.opcodes import Kind
from framework.jit import x86
from framework.jit.counters import BlockCounter, block_targets
from framework.jit.image import FrameLayout, NativeImage, PokeSite
from framework.jit.items import Back, Branch, Fwd, Item, JitError, JumpTo, Resolver
from framework.jit.lower import LOWER
from framework.jit.x86 import X86_REG_R12
from framework.platform.tailcall import MAX_TAIL_CALL_CNT

CODE_BASE = 0x0400_0000  # the machine's code region (Linux's images live at 0xffffffffa...)
_RSP = _R.RSP
RETURN_THUNK = 0x0200_4900  # the machine's __x86_return_thunk (a `ret`)
INDIRECT_THUNK = 0x0200_4910  # the machine's __x86_indirect_thunk_rcx (a `jmp rcx`)
MAX_PASSES = 20  # bpf_int_jit_compile's MAX_PASSES, before jmp padding kicks in
_EXTRA_PASSES = 40  # Linux then pads jumps; we only allow more passes and say so


@dataclass(frozen=True, slots=True)
class SubprogSpec:
    """What the JIT needs of one subprog (a `framework.load.program.Subprog` suffices)."""

    name: str
    start: int
    end: int
    is_exception_cb: bool = False
    tail_call_reachable: bool = False  # the verifier's subprog_info[].tail_call_reachable


def subprog_specs(fixed: Fixed) -> list[SubprogSpec]:
    """The JIT's view of a fixed program's subprogs (jit_subprogs' func[i]->aux flags)."""
    reachable = fixed.tail_call_reachable
    return [SubprogSpec(s.name, s.start, s.end, s.is_exception_cb, s.name in reachable) for s in fixed.program.subprogs]


def _no_resolver(pc: int, insn: Insn) -> int:
    raise JitError(pc, f"no resolver for {insn.spec.name} (imm {insn.imm})")


@dataclass(slots=True)
class _Pass:
    """do_jit's per-pass state (the `Ctx` the lowerings see)."""

    addrs: list[int]
    start: int
    callee_regs: tuple[int, ...]
    exception_boundary: bool
    bmi2: bool
    subprog_address: Callable[[int], int]
    resolve: Resolver
    return_thunk: int | None = None
    indirect_thunk: int | None = None
    stack_depth: int = 0
    tail_call_reachable: bool = False
    tail_calls: Mapping[int, int] = field(default_factory=dict)
    proglen: int = 0
    cleanup_addr: int = 0
    seen_exit: bool = False
    chunks: list[bytes] = field(default_factory=list)


_FWD_SIZE = {Code.JMP_REL32_64: 5}  # Fwd: rel8 codes are 2 bytes


def _encode_items(items: Sequence[Item], ip: int, enc: Encoder) -> bytes:
    """Encode one BPF instruction's items at address `ip` (a sequence with forward jumps
    twice: once to place its items, once with their targets)."""
    ahead: list[int] | None = None
    if any(isinstance(it, Fwd) for it in items):
        ahead = _starts(items, ip, enc)
    out = bytearray()
    starts: list[int] = []
    for item in items:
        starts.append(ip + len(out))
        here = ip + len(out)
        if isinstance(item, Fwd):
            assert ahead is not None
            ins = Instruction.create_branch(item.code, ahead[item.to])
        elif isinstance(item, Instruction):
            ins = item
        elif isinstance(item, Branch):
            short = x86.is_imm8_jmp_offset(item.offset)
            code = item.short if short else item.near
            size = 2 if short else (5 if code == Code.JMP_REL32_64 else 6)
            ins = Instruction.create_branch(code, here + size + item.offset)
        elif isinstance(item, Back):
            ins = Instruction.create_branch(item.code, starts[item.to])
        elif isinstance(item, JumpTo):
            ins = Instruction.create_branch(Code.JMP_REL32_64, item.target)
        else:
            ins = Instruction.create_branch(Code.CALL_REL32_64, item.target)
        enc.encode(ins, here)
        out += enc.take_buffer()
    return bytes(out)


def _starts(items: Sequence[Item], ip: int, enc: Encoder) -> list[int]:
    """Where each item of `items` starts at `ip`, and (last) where the sequence ends."""
    at = [ip]
    for item in items:
        if isinstance(item, Fwd):
            at.append(at[-1] + _FWD_SIZE.get(item.code, 2))
        else:
            at.append(at[-1] + len(_encode_items([item], at[-1], enc)))
    return at


def _detect_reg_usage(slots: Slots, sub: SubprogSpec) -> tuple[int, ...]:
    """detect_reg_usage: which of R6-R9 the subprog names as dst or src."""
    used: set[int] = set()
    for pc in range(sub.start, sub.end):
        insn = slots[pc]
        if insn is None:
            continue
        used.update(r for r in (insn.dst, insn.src) if r in x86.CALLEE_SAVED)
    return tuple(r for r in x86.CALLEE_SAVED if r in used)


def _prologue(
    depth: int, is_subprog: bool, exception_cb: bool, pushes: tuple[int, ...], tail_call_reachable: bool = False
) -> tuple[list[Item], list[Item]]:
    """emit_prologue (no CFI preamble) and do_jit's pushes, in two parts: what a tail call
    into this program skips (X86_TAIL_CALL_OFFSET bytes in an image without counters), and
    the rest, where it lands."""
    out: list[Item] = list(x86.nops(5))  # the 5-byte patch site for trampolines
    if tail_call_reachable and not is_subprog:  # the entry of a tail-call context: tail_call_cnt = 0
        out.append(x86.i_rr(Code.XOR_RM64_R64, x86.reg(0), x86.reg(0)))
    else:
        out += x86.nops(3)  # keep the same instruction layout
    if exception_cb:  # reuse the boundary's frame: rsp = sp, rbp = fp from bpf_throw
        out.append(x86.i_rr(Code.MOV_RM64_R64, _RSP, x86.reg(2)))
        out.append(x86.i_rr(Code.MOV_RM64_R64, x86.reg(10), x86.reg(3)))
        out += [x86.pop(r) for r in reversed(x86.CALLEE_SAVED)]
        out.append(x86.pop(X86_REG_R12))
        out.append(x86.i_rr(Code.MOV_RM64_R64, _RSP, x86.reg(10)))  # mov rsp, rbp
    else:
        out.append(x86.push(10))  # push rbp
        out.append(x86.i_rr(Code.MOV_RM64_R64, x86.reg(10), _RSP))  # mov rbp, rsp
    rest: list[Item] = []  # X86_TAIL_CALL_OFFSET is here
    if depth:  # sub rsp, round_up(stack_depth, 8): always imm32 (48 81 EC)
        rest.append(x86.i_ri(Code.SUB_RM64_IMM32, _RSP, _round8(depth)))
    if tail_call_reachable:
        rest += _prologue_tail_call(is_subprog)
    rest += [x86.push(r) for r in pushes]
    return out, rest


def _prologue_tail_call(is_subprog: bool) -> list[Item]:
    """emit_prologue_tail_call: the counter and its pointer, two slots below the BPF stack.
    rax is the count at a main program's entry (0) or after a tail call from a main program
    (at most MAX_TAIL_CALL_CNT); after a tail call from a subprog it is the counter's pointer."""
    rax, push_rax = x86.reg(0), x86.i_r(Code.PUSH_R64, x86.reg(0))
    if is_subprog:  # rax is tail_call_cnt_ptr
        return [push_rax, push_rax]
    return [
        Instruction.create_reg_i32(Code.CMP_RM64_IMM8, rax, MAX_TAIL_CALL_CNT),  # cmp rax, MAX_TAIL_CALL_CNT
        Fwd(Code.JA_REL8_64, 5),  # ja: rax is a pointer
        push_rax,  # the count
        x86.i_rr(Code.MOV_RM64_R64, rax, _RSP),  # mov rax, rsp: its pointer
        Fwd(Code.JMP_REL8_64, 6),
        push_rax,  # tail_call_cnt_ptr, as the count's slot (a subprog's callee)
        push_rax,  # tail_call_cnt_ptr
    ]


def _round8(n: int) -> int:
    return (n + 7) & ~7


def _jit_subprog(
    slots: Slots,
    sub: SubprogSpec,
    index: int,
    depth: int,
    boundary: bool,
    bmi2: bool,
    return_thunk: int | None,
    address: int,
    subprog_address: Callable[[int], int],
    resolve: Resolver,
    fixed_addrs: list[int] | None,
    counter: int | None = None,
    counts: Sequence[int] = (),
    indirect_thunk: int | None = None,
    tail_calls: Mapping[int, int] | None = None,
) -> tuple[bytes, list[int], int, tuple[int, ...], int, list[int], int]:
    """Passes of do_jit for one subprog at `address`: (code, addrs, passes, pushes, body, block
    counts, where a tail call lands)."""
    enc = Encoder(64)
    n = sub.end - sub.start
    if boundary:  # push r12 then rbx, r13, r14, r15, whatever the body uses
        pushes: tuple[int, ...] = (X86_REG_R12, *x86.CALLEE_SAVED)
    else:
        pushes = _detect_reg_usage(slots, sub)
    callee_regs = pushes
    reachable = sub.tail_call_reachable and not sub.is_exception_cb
    head_items, rest_items = _prologue(depth, index > 0, sub.is_exception_cb, pushes, reachable)
    targets = block_targets(slots, sub.start, sub.end) if counter is not None else frozenset()
    # bpf_int_jit_compile's first guess: 64 bytes per instruction.
    addrs = [64 * (k + 1) for k in range(n + 1)] if fixed_addrs is None else fixed_addrs
    passes = 0
    limit = MAX_PASSES + _EXTRA_PASSES
    while True:
        passes += 1
        blocks = None if counter is None else BlockCounter(counter, return_thunk, counts)
        head, rest = head_items, rest_items
        if blocks is not None:  # a tail call lands after `head`: a block starts there
            head, rest = blocks.instrument(head_items, True), blocks.instrument(rest_items, index == 0)
        first = _encode_items(head, address, enc)
        landing = len(first)
        prologue = first + _encode_items(rest, address + landing, enc)  # each part's Fwd targets are its own
        st = _Pass(addrs, sub.start, callee_regs, boundary, bmi2, subprog_address, resolve, return_thunk)
        st.indirect_thunk, st.stack_depth, st.tail_call_reachable = indirect_thunk, depth, reachable
        st.tail_calls = tail_calls or {}
        st.cleanup_addr = addrs[-1]
        st.proglen = len(prologue)
        new = [0] * (n + 1)
        new[0] = st.proglen
        chunks: list[bytes] = []
        for k in range(n):
            pc = sub.start + k
            insn = slots[pc]
            if insn is None:  # ld_imm64's second slot
                new[k + 1] = st.proglen
                continue
            items = LOWER[insn.kind](insn, pc, st)
            if blocks is not None:
                items = blocks.instrument(items, pc in targets)
            code = _encode_items(items, address + st.proglen, enc)
            chunks.append(code)
            st.proglen += len(code)
            new[k + 1] = st.proglen
        stable = blocks is None or blocks.counts == counts
        if new == addrs and stable:
            return prologue + b"".join(chunks), addrs, passes, pushes, len(prologue), list(counts), landing
        if passes >= limit or (fixed_addrs is not None and new != addrs):
            raise JitError(sub.start, f"JIT layout did not converge after {passes} passes")
        addrs = new
        counts = [] if blocks is None else blocks.counts


def default_stack_depth(slots: Slots, sub: SubprogSpec) -> int:
    """A stand-in for the verifier's stack depth: the deepest fp-relative access,
    or 512 when R10 escapes into another register."""
    deepest = 0
    for pc in range(sub.start, sub.end):
        insn = slots[pc]
        if insn is None:
            continue
        if insn.kind is Kind.ALU and insn.uses_reg_src and insn.src == 10:
            return 512
        if insn.kind is Kind.LOAD and insn.src == 10:
            deepest = max(deepest, -insn.off)
        if insn.kind in (Kind.STORE_IMM, Kind.STORE_REG, Kind.ATOMIC) and insn.dst == 10:
            deepest = max(deepest, -insn.off)
    return _round8(deepest)


def jit(
    slots: Slots,
    subprogs: Sequence[SubprogSpec] | None = None,
    *,
    stack_depths: Sequence[int] | None = None,
    resolver: Resolver | None = None,
    base: int = CODE_BASE,
    bmi2: bool = True,
    return_thunk: int | None = RETURN_THUNK,
    exception_boundary: bool | None = None,
    counter: int | None = None,
    indirect_thunk: int | None = INDIRECT_THUNK,
    tail_calls: Mapping[int, int] | None = None,
) -> NativeImage:
    """JIT a program the way Linux 6.18's x86 JIT would (no CFI, no IBT).

    `subprogs` defaults to one main program covering all slots; `stack_depths`
    to `default_stack_depth`; `exception_boundary` to "the program has an
    exception callback". `return_thunk` is where emit_return jumps instead of
    `ret` (X86_FEATURE_RETHUNK, on in the live kernel); None emits `ret`. The
    resolver maps helper/kfunc calls, `callx` and ld_imm64 pseudo sources to
    addresses or values. With `counter`, every block adds its instruction count
    to the 8 bytes at that address (`framework.jit.counters`). `tail_calls` are the
    fixup stage's BPF_TAIL_CALL imms by pc (`Fixed.tail_calls`); a tail call's indirect
    jump goes through `indirect_thunk` (retpolines, on in the live kernel), or is
    `jmp rcx` where None.
    """
    subs = list(subprogs) if subprogs else [SubprogSpec("main", 0, len(slots))]
    subs = [SubprogSpec(s.name, s.start, s.end, s.is_exception_cb, s.tail_call_reachable) for s in subs]
    depths = list(stack_depths) if stack_depths is not None else [default_stack_depth(slots, s) for s in subs]
    if exception_boundary is None:
        exception_boundary = any(s.is_exception_cb for s in subs)
    resolve: Resolver = resolver or _no_resolver
    by_start = {s.start: i for i, s in enumerate(subs)}
    entries = [0] * len(subs)

    def subprog_address(pc: int) -> int:
        if pc not in by_start:
            raise JitError(pc, f"call target pc {pc} is not the start of a subprog")
        return base + entries[by_start[pc]]

    # First: each subprog on its own until it converges (targets of calls unknown).
    first = []
    for i, s in enumerate(subs):
        boundary = exception_boundary and i == 0
        first.append(
            _jit_subprog(
                slots,
                s,
                i,
                depths[i],
                boundary,
                bmi2,
                return_thunk,
                base,
                subprog_address,
                resolve,
                None,
                counter,
                (),
                indirect_thunk,
                tail_calls,
            )
        )
    at = 0
    for i, (code, *_rest) in enumerate(first):
        entries[i] = at
        at += len(code)
    # Then the extra pass with the real addresses (jit_subprogs' last pass).
    parts: list[bytes] = []
    frames: list[FrameLayout] = []
    pc_offsets: list[int | None] = [None] * len(slots)
    pc_ends: list[int | None] = [None] * len(slots)
    passes: list[int] = []
    for i, s in enumerate(subs):
        boundary = exception_boundary and i == 0
        _, addrs, npass, pushes, body, counts, _ = first[i]
        code, addrs, _, _, _, _, landing = _jit_subprog(
            slots,
            s,
            i,
            depths[i],
            boundary,
            bmi2,
            return_thunk,
            base + entries[i],
            subprog_address,
            resolve,
            addrs,
            counter,
            counts,
            indirect_thunk,
            tail_calls,
        )
        parts.append(code)
        passes.append(npass)
        for k in range(s.end - s.start):
            if slots[s.start + k] is not None:
                pc_offsets[s.start + k] = entries[i] + addrs[k]
                pc_ends[s.start + k] = entries[i] + addrs[k + 1]
        frames.append(
            FrameLayout(
                subprog=i,
                name=s.name,
                start_pc=s.start,
                end_pc=s.end,
                entry=entries[i],
                body=entries[i] + body,
                end=entries[i] + len(code),
                stack_depth=depths[i],
                stack_size=_round8(depths[i]),
                pushed=tuple(_x86_name(r) for r in pushes),
                exception_boundary=boundary,
                exception_cb=s.is_exception_cb,
                tail_call_slots=16 if s.tail_call_reachable and not s.is_exception_cb else 0,
                tail_entry=entries[i] + landing,
            )
        )
    code = b"".join(parts)
    directs = sorted(pc for pc, imm in (tail_calls or {}).items() if imm)
    pokes = tuple(_poke_sites(code, base, pc, pc_offsets[pc], pc_ends[pc]) for pc in directs)
    return NativeImage(code, base, tuple(frames), tuple(pc_offsets), tuple(pc_ends), tuple(passes), counter, pokes)


def _poke_sites(code: bytes, base: int, pc: int, start: int | None, end: int | None) -> PokeSite:
    """A direct tail call's two patch sites (emit_bpf_tail_call_direct): the bypass `jmp out`
    (poke->tailcall_bypass) and the 5-byte nop before `out` (poke->tailcall_target)."""
    assert start is not None and end is not None
    found = list(Decoder(64, code[start:end], ip=base + start))
    bypass = next(i for i in found if i.code == Code.JMP_REL32_64)
    target = [i for i in found if i.len == 5 and i.code == Code.NOP_RM32][-1]
    return PokeSite(pc, bypass.ip - base, target.ip - base)


def _x86_name(bpf: int) -> str:
    return {6: "rbx", 7: "r13", 8: "r14", 9: "r15", X86_REG_R12: "r12"}[bpf]


__all__ = ["CODE_BASE", "INDIRECT_THUNK", "RETURN_THUNK", "SubprogSpec", "default_stack_depth", "jit", "subprog_specs"]
