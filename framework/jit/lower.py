"""One `lower_<kind>` per ISA Kind: a BPF instruction to the x86 sequence do_jit emits.

Each function re-expresses one part of do_jit (arch/x86/net/bpf_jit_comp.c, Linux
6.18) and returns a list of items: iced `Instruction`s, plus three placeholders the
pass driver (`framework.jit.compile`) resolves once it knows where the code lands:
`Branch` (a jump whose displacement do_jit computed from the previous pass's
addrs), `Back` (a rel8 jump to an earlier item of the same sequence), `Fwd` (a
jump to a later item, or past the sequence's end: the tail-call code's `out` label),
`CallTo` and `JumpTo` (rel32 call / jmp to an absolute address).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from iced_x86 import Code, Instruction, MemoryOperand, Register

from framework.errors import FrameworkError
from framework.fixup.maygoto import TIMED_MAY_GOTO
from framework.isa import opcodes as op
from framework.isa.insn import Insn
from framework.isa.opcodes import Kind
from framework.jit import x86
from framework.jit.x86 import AUX_REG, REG_AX, CodeT, reg
from framework.platform.tailcall import (
    BPF_ARRAY_MAX_ENTRIES,
    BPF_ARRAY_PTRS,
    BPF_PROG_BPF_FUNC,
    MAX_TAIL_CALL_CNT,
    X86_TAIL_CALL_OFFSET,
)

_RSP = Register.RSP


@dataclass(frozen=True, slots=True)
class Branch:
    """A jump whose displacement, from its own end, is `offset` bytes (do_jit's jmp_offset)."""

    short: CodeT  # rel8 code
    near: CodeT  # rel32 code
    offset: int


@dataclass(frozen=True, slots=True)
class Back:
    """A rel8 jump to item `to` of the same sequence (the cmpxchg loop's `jne`)."""

    code: CodeT
    to: int


@dataclass(frozen=True, slots=True)
class Fwd:
    """A jump to item `to` of the same sequence, later than itself; `to` = the sequence's
    length jumps past its end (do_jit's EMIT2(X86_JA, 6) in the tail-call prologue, and the
    tail call's jumps to `out`, whose offsets the kernel computes from the code it emits).
    rel8 for a short code, rel32 for JMP_REL32_64 (emit_jump)."""

    code: CodeT
    to: int


@dataclass(frozen=True, slots=True)
class CallTo:
    """`call rel32` to an absolute address (emit_call)."""

    target: int


@dataclass(frozen=True, slots=True)
class JumpTo:
    """`jmp rel32` to an absolute address (emit_jump, e.g. to the return thunk)."""

    target: int


Item = Instruction | Branch | Back | Fwd | CallTo | JumpTo


class JitError(FrameworkError):
    """An instruction the x86 JIT does not accept (Linux would fail with -EINVAL/-EFAULT)."""

    def __init__(self, pc: int, message: str) -> None:
        super().__init__(f"pc {pc}: {message}")
        self.pc = pc
        self.message = message


class Resolver(Protocol):
    """Addresses the JIT cannot know itself: helper and kfunc entry points (the
    machine's trap stubs), the `callx` stub, and ld_imm64 pseudo values (maps, BTF ids)."""

    def __call__(self, pc: int, insn: Insn) -> int: ...


class Ctx(Protocol):
    """What a lowering needs from the pass driver (do_jit's locals and jit_context)."""

    addrs: list[int]  # previous pass: addrs[k] = native offset where local slot k starts
    start: int  # first pc of this subprog
    proglen: int  # offset of this instruction in the current pass
    cleanup_addr: int
    seen_exit: bool
    bmi2: bool
    callee_regs: tuple[int, ...]  # BPF registers pushed after the frame (in push order)
    exception_boundary: bool
    return_thunk: int | None  # emit_return: jmp to the return thunk, or a plain ret
    indirect_thunk: int | None  # emit_indirect_jump: jmp to the rcx thunk, or `jmp rcx; int3`
    stack_depth: int  # the subprog's stack depth (tail calls free it and find the counter below it)
    tail_call_reachable: bool  # the frame holds the tail-call counter slots (emit_prologue_tail_call)
    tail_calls: Mapping[int, int]  # pc -> BPF_TAIL_CALL's imm: poke index + 1 (direct), 0 (indirect)

    def subprog_address(self, pc: int) -> int:
        """The address of the subprog starting at `pc`."""

    def resolve(self, pc: int, insn: Insn) -> int:
        """A helper/kfunc/callx address or an ld_imm64 pseudo value (a `Resolver`)."""


def _jmp_offset(ctx: Ctx, pc: int, target: int) -> int:
    """addrs[i + off] - addrs[i], with i the 1-based insn index of do_jit."""
    k = pc - ctx.start
    return ctx.addrs[target - ctx.start] - ctx.addrs[k + 1]


def _alu_name(insn: Insn) -> str:
    return {v: k for k, v in _OPS.items()}[insn.op]


_OPS = {"add": op.ADD, "sub": op.SUB, "and": op.AND, "or": op.OR, "xor": op.XOR}


def lower_alu(insn: Insn, pc: int, ctx: Ctx) -> list[Item]:
    """do_jit's ALU / ALU64 cases (mov, movsx, add...xor, mul, div/mod, shifts)."""
    is64 = insn.alu64
    dst, src, imm = insn.dst, insn.src, insn.imm
    bits = 64 if is64 else 32
    o = insn.op
    if o == op.MOV:
        if insn.uses_reg_src:
            if insn.off == 0:  # emit_mov_reg
                return list(x86.mov_reg(is64, dst, src))
            if is64 and insn.off == 1:
                raise JitError(pc, "addr_space_cast needs an arena (not supported)")
            return _movsx(insn.off, is64, dst, src)  # emit_movsx_reg
        return list(x86.mov_imm32(is64, dst, imm))  # emit_mov_imm32
    if o in _OPS.values():
        name = _alu_name(insn)
        if insn.uses_reg_src:  # simple_alu_opcodes, maybe_emit_mod
            return [x86.i_rr(x86.ALU_RR[name][0 if is64 else 1], reg(dst, bits), reg(src, bits))]
        c8_64, c8_32, cax64, cax32, c32_64, c32_32 = x86.ALU_RI[name]
        if x86.is_imm8(imm):
            code = c8_64 if is64 else c8_32
        elif dst == 0:  # the short rax/eax form
            code = cax64 if is64 else cax32
        else:
            code = c32_64 if is64 else c32_32
        return [x86.i_ri(code, reg(dst, bits), imm)]
    if o == op.MUL:
        if insn.uses_reg_src:  # imul dst_reg, src_reg
            code = Code.IMUL_R64_RM64 if is64 else Code.IMUL_R32_RM32
            return [x86.i_rr(code, reg(dst, bits), reg(src, bits))]
        if x86.is_imm8(imm):  # imul dst_reg, dst_reg, imm8/imm32
            code = Code.IMUL_R64_RM64_IMM8 if is64 else Code.IMUL_R32_RM32_IMM8
        else:
            code = Code.IMUL_R64_RM64_IMM32 if is64 else Code.IMUL_R32_RM32_IMM32
        return [Instruction.create_reg_reg_i32(code, reg(dst, bits), reg(dst, bits), imm)]
    if o in (op.DIV, op.MOD):
        return _divmod(insn)
    if o in (op.LSH, op.RSH, op.ARSH):
        return _shift(insn, ctx)
    raise JitError(pc, f"unknown ALU op 0x{o:02x}")


_NEEDS_REX_8 = {1, 2, 10}  # dil, sil, bpl need a REX prefix as byte registers


def _movsx(width: int, is64: bool, dst: int, src: int) -> list[Item]:
    """emit_movsx_reg. For `movsx r32, r8` Linux always emits a REX prefix (0x40
    plus the extension bits); iced emits one only when a register needs it, so an
    empty REX (0x40) is prepended as an iced `db` where iced would leave it out."""
    if is64:
        codes = {8: Code.MOVSX_R64_RM8, 16: Code.MOVSX_R64_RM16, 32: Code.MOVSXD_R64_RM32}
        return [x86.i_rr(codes[width], reg(dst), reg(src, width))]
    if width == 16:
        return [x86.i_rr(Code.MOVSX_R32_RM16, reg(dst, 32), reg(src, 16))]
    out: list[Item] = []
    if not (x86.is_ereg(dst) or x86.is_ereg(src) or src in _NEEDS_REX_8):
        out.append(Instruction.create_declare_byte_1(0x40))
    out.append(x86.i_rr(Code.MOVSX_R32_RM8, reg(dst, 32), reg(src, 8)))
    return out


def _divmod(insn: Insn) -> list[Item]:
    """do_jit's BPF_DIV/BPF_MOD: through rax:rdx, saving them unless they are dst.

    Division by zero and INT_MIN / -1 are made impossible before the JIT runs
    (do_misc_fixups); see `framework.fixup`."""
    is64 = insn.alu64
    bits = 64 if is64 else 32
    dst, src = insn.dst, insn.src
    out: list[Item] = []
    if dst != 0:
        out.append(x86.push(0))  # push rax
    if dst != 3:
        out.append(x86.push(3))  # push rdx
    if insn.uses_reg_src:
        if src in (0, 3):  # mov r11, src_reg
            out += x86.mov_reg(True, AUX_REG, src)
            src = AUX_REG
    else:  # mov r11, imm32
        out.append(x86.i_ri(Code.MOV_RM64_IMM32, reg(AUX_REG), insn.imm))
        src = AUX_REG
    if dst != 0:  # mov rax, dst_reg
        out += x86.mov_reg(is64, 0, dst)
    if insn.off == 0:
        out.append(x86.i_rr(Code.XOR_RM32_R32, reg(3, 32), reg(3, 32)))  # xor edx, edx
        out.append(x86.i_r(Code.DIV_RM64 if is64 else Code.DIV_RM32, reg(src, bits)))
    else:
        out.append(x86.i_0(Code.CQO if is64 else Code.CDQ))
        out.append(x86.i_r(Code.IDIV_RM64 if is64 else Code.IDIV_RM32, reg(src, bits)))
    if insn.op == op.MOD and dst != 3:  # mov dst_reg, rdx
        out += x86.mov_reg(is64, dst, 3)
    elif insn.op == op.DIV and dst != 0:  # mov dst_reg, rax
        out += x86.mov_reg(is64, dst, 0)
    if dst != 3:
        out.append(x86.pop(3))
    if dst != 0:
        out.append(x86.pop(0))
    return out


_SHIFT_NAMES = {op.LSH: "lsh", op.RSH: "rsh", op.ARSH: "arsh"}


def _shift(insn: Insn, ctx: Ctx) -> list[Item]:
    """do_jit's shifts: C1/D1 by an immediate; BMI2 shlx/shrx/sarx by a register
    when the CPU has BMI2 (Linux's boot_cpu_has choice) and the count is not
    already in rcx; otherwise through cl, saving rcx."""
    is64 = insn.alu64
    bits = 64 if is64 else 32
    one, by_imm, by_cl, bmi2 = x86.SHIFT[_SHIFT_NAMES[insn.op]][0 if is64 else 1]
    dst, src = insn.dst, insn.src
    if not insn.uses_reg_src:
        if insn.imm == 1:
            return [x86.i_ri(one, reg(dst, bits), 1)]
        return [x86.i_ri(by_imm, reg(dst, bits), insn.imm & 0xFF)]
    if ctx.bmi2 and src != 4:  # emit_shiftx
        return [Instruction.create_reg_reg_reg(bmi2, reg(dst, bits), reg(dst, bits), reg(src, bits))]
    out: list[Item] = []
    if src != 4:
        if dst == 4:  # mov r11, dst_reg
            out += x86.mov_reg(True, AUX_REG, dst)
            dst = AUX_REG
        else:
            out.append(x86.push(4))  # push rcx
        out += x86.mov_reg(True, 4, src)  # mov rcx, src_reg
    out.append(x86.i_rr(by_cl, reg(dst, bits), reg(4, 8)))
    if src != 4:
        if insn.dst == 4:
            out += x86.mov_reg(True, insn.dst, AUX_REG)
        else:
            out.append(x86.pop(4))
    return out


def lower_neg(insn: Insn, pc: int, ctx: Ctx) -> list[Item]:
    """do_jit's BPF_NEG: neg dst."""
    if insn.alu64:
        return [x86.i_r(Code.NEG_RM64, reg(insn.dst))]
    return [x86.i_r(Code.NEG_RM32, reg(insn.dst, 32))]


def lower_end(insn: Insn, pc: int, ctx: Ctx) -> list[Item]:
    """do_jit's BPF_END: ror/bswap with zero extension (FROM_BE, ALU64 bswap) or
    movzx / mov32 / nothing (FROM_LE)."""
    dst = insn.dst
    swap = insn.alu64 or insn.code & op.X == op.TO_BE
    out: list[Item] = []
    if swap:
        if insn.imm == 16:  # ror dst16, 8; movzx dst32, dst16
            out.append(x86.i_ri(Code.ROR_RM16_IMM8, reg(dst, 16), 8))
            out.append(x86.i_rr(Code.MOVZX_R32_RM16, reg(dst, 32), reg(dst, 16)))
        elif insn.imm == 32:
            out.append(x86.i_r(Code.BSWAP_R32, reg(dst, 32)))
        else:
            out.append(x86.i_r(Code.BSWAP_R64, reg(dst)))
    elif insn.imm == 16:
        out.append(x86.i_rr(Code.MOVZX_R32_RM16, reg(dst, 32), reg(dst, 16)))
    elif insn.imm == 32:
        out.append(x86.i_rr(Code.MOV_RM32_R32, reg(dst, 32), reg(dst, 32)))
    return out


def _emit_jmp(jmp_offset: int) -> list[Item]:
    """emit_jmp: rel8 when is_imm8_jmp_offset, else rel32."""
    return [Branch(x86.JMP[0], x86.JMP[1], jmp_offset)]


def lower_ja(insn: Insn, pc: int, ctx: Ctx) -> list[Item]:
    """do_jit's BPF_JA (off) and gotol (imm): nothing for a jump to the next insn."""
    delta = insn.imm if insn.jmp32 else insn.off
    jmp_offset = -2 if delta == -1 else _jmp_offset(ctx, pc, pc + 1 + delta)
    if jmp_offset == 0:
        return []
    return _emit_jmp(jmp_offset)


_JOPS = {
    op.JEQ: "jeq", op.JNE: "jne", op.JGT: "jgt", op.JGE: "jge", op.JSET: "jset", op.JLT: "jlt",
    op.JLE: "jle", op.JSGT: "jsgt", op.JSGE: "jsge", op.JSLT: "jslt", op.JSLE: "jsle",
}  # fmt: skip


def lower_jcond(insn: Insn, pc: int, ctx: Ctx) -> list[Item]:
    """do_jit's conditional jumps: cmp / test (test r,r for imm 0), then emit_cond_jmp."""
    is64 = not insn.jmp32
    bits = 64 if is64 else 32
    dst = reg(insn.dst, bits)
    name = _JOPS[insn.op]
    out: list[Item] = []
    if insn.uses_reg_src:
        src = reg(insn.src, bits)
        if name == "jset":
            out.append(x86.i_rr(Code.TEST_RM64_R64 if is64 else Code.TEST_RM32_R32, dst, src))
        else:
            out.append(x86.i_rr(Code.CMP_RM64_R64 if is64 else Code.CMP_RM32_R32, dst, src))
    elif name == "jset":
        out.append(x86.i_ri(Code.TEST_RM64_IMM32 if is64 else Code.TEST_RM32_IMM32, dst, insn.imm))
    elif insn.imm == 0:
        out.append(x86.i_rr(Code.TEST_RM64_R64 if is64 else Code.TEST_RM32_R32, dst, dst))
    elif x86.is_imm8(insn.imm):
        out.append(x86.i_ri(Code.CMP_RM64_IMM8 if is64 else Code.CMP_RM32_IMM8, dst, insn.imm))
    else:
        out.append(x86.i_ri(Code.CMP_RM64_IMM32 if is64 else Code.CMP_RM32_IMM32, dst, insn.imm))
    short, near = x86.JCC[name]
    out.append(Branch(short, near, _jmp_offset(ctx, pc, pc + 1 + insn.off)))
    return out


def lower_may_goto(insn: Insn, pc: int, ctx: Ctx) -> list[Item]:
    """may_goto never reaches the JIT: do_misc_fixups rewrites it into a stack counter."""
    raise JitError(pc, "may_goto must be rewritten by the fixup stage before the JIT")


def tcc_ptr_off(depth: int) -> int:
    """BPF_TAIL_CALL_CNT_PTR_STACK_OFF: the counter pointer's slot, below the BPF stack."""
    return -16 - (depth + 7) // 8 * 8


def load_tcc_ptr(depth: int) -> Instruction:
    """LOAD_TAIL_CALL_CNT_PTR: mov rax, qword ptr [rbp - tcc_ptr_off], always disp32 (48 8b 85;
    iced spells a disp32 as size 8 in 64-bit code)."""
    slot = MemoryOperand(reg(10), displ=tcc_ptr_off(depth), displ_size=8)
    return Instruction.create_reg_mem(Code.MOV_R64_RM64, reg(0), slot)


def lower_call(insn: Insn, pc: int, ctx: Ctx) -> list[Item]:
    """do_jit's BPF_JMP|BPF_CALL: emit_call to the helper, kfunc or subprog; before a
    BPF-to-BPF call from a tail-call-reachable frame, rax = the counter's pointer. A
    tail call (do_misc_fixups' BPF_TAIL_CALL, `ctx.tail_calls`) is `lower_tail_call`."""
    if pc in ctx.tail_calls:
        return lower_tail_call(insn, pc, ctx)
    if insn.src == op.PSEUDO_CALL:
        call = CallTo(ctx.subprog_address(pc + 1 + insn.imm))
        return [load_tcc_ptr(ctx.stack_depth), call] if ctx.tail_call_reachable else [call]
    if insn.src == 0 and insn.imm == TIMED_MAY_GOTO:
        # the live 6.18.44 JIT turns AX's fp offset into the count's address before
        # calling arch_bpf_timed_may_goto (`add r10, rbp`, read off its JITed image)
        return [x86.i_rr(Code.ADD_RM64_R64, reg(REG_AX), reg(10)), CallTo(ctx.resolve(pc, insn))]
    return [CallTo(ctx.resolve(pc, insn))]


def _tail_call_exit(ctx: Ctx) -> list[Item]:
    """What a tail call undoes of the frame before it jumps: the callee-saved pushes, both
    counter slots (`pop rax` twice) and the BPF stack; rbp stays, the target reuses it."""
    out: list[Item] = [x86.pop(r) for r in reversed(ctx.callee_regs)]
    out += [x86.i_r(Code.POP_R64, reg(0)), x86.i_r(Code.POP_R64, reg(0))]
    if ctx.stack_depth:  # add rsp, round_up(stack_depth, 8): always imm32 (48 81 c4)
        out.append(x86.i_ri(Code.ADD_RM64_IMM32, _RSP, (ctx.stack_depth + 7) // 8 * 8))
    return out


def _count_or_out(ctx: Ctx) -> list[Item]:
    """if ((*tcc_ptr)++ >= MAX_TAIL_CALL_CNT) goto out: the load and the compare."""
    return [
        load_tcc_ptr(ctx.stack_depth),
        Instruction.create_mem_i32(Code.CMP_RM64_IMM8, MemoryOperand(reg(0)), MAX_TAIL_CALL_CNT),
    ]


def lower_tail_call(insn: Insn, pc: int, ctx: Ctx) -> list[Item]:
    """do_jit's BPF_JMP|BPF_TAIL_CALL: emit_bpf_tail_call_direct for a poke descriptor (imm > 0),
    else emit_bpf_tail_call_indirect (rdi ctx, rsi the prog array, rdx the index)."""
    if not ctx.tail_call_reachable:
        raise JitError(pc, "a tail call in a subprog the verifier did not mark tail_call_reachable")
    inc = Instruction.create_mem_i32(Code.ADD_RM64_IMM8, MemoryOperand(reg(0)), 1)  # add qword ptr [rax], 1
    if ctx.tail_calls[pc]:  # emit_bpf_tail_call_direct
        out: list[Item] = [*_count_or_out(ctx), Fwd(Code.JAE_REL8_64, -1)]
        out.append(Fwd(Code.JMP_REL32_64, -1))  # the bypass: poke->tailcall_bypass, to `out` until patched
        out += [inc, *_tail_call_exit(ctx)]
        out += x86.nops(5)  # poke->tailcall_target: `jmp target + X86_TAIL_CALL_OFFSET` once patched
        return _resolve_out(out)
    out = [  # emit_bpf_tail_call_indirect
        x86.i_rr(Code.MOV_RM32_R32, reg(3, 32), reg(3, 32)),  # mov edx, edx
        Instruction.create_mem_reg(  # cmp dword ptr [rsi + offsetof(struct bpf_array, map.max_entries)], edx
            Code.CMP_RM32_R32, MemoryOperand(reg(2), displ=BPF_ARRAY_MAX_ENTRIES, displ_size=1), reg(3, 32)
        ),
        Fwd(Code.JBE_REL8_64, -1),  # index >= array->map.max_entries
        *_count_or_out(ctx),
        Fwd(Code.JAE_REL8_64, -1),
        Instruction.create_reg_mem(  # mov rcx, [rsi + rdx * 8 + offsetof(struct bpf_array, ptrs)]
            Code.MOV_R64_RM64, reg(4), MemoryOperand(reg(2), reg(3), 8, BPF_ARRAY_PTRS, 8)
        ),
        x86.i_rr(Code.TEST_RM64_R64, reg(4), reg(4)),
        Fwd(Code.JE_REL8_64, -1),  # an empty slot
        inc,
        *_tail_call_exit(ctx),
        Instruction.create_reg_mem(  # mov rcx, qword ptr [rcx + offsetof(struct bpf_prog, bpf_func)]
            Code.MOV_R64_RM64, reg(4), MemoryOperand(reg(4), displ=BPF_PROG_BPF_FUNC, displ_size=1)
        ),
        x86.i_ri(Code.ADD_RM64_IMM8, reg(4), X86_TAIL_CALL_OFFSET),
    ]
    if ctx.indirect_thunk is None:  # emit_indirect_jump: jmp *rcx, int3 (SLS)
        out += [x86.i_r(Code.JMP_RM64, reg(4)), x86.i_0(Code.INT3)]
    else:  # the retpoline / ITS thunk for rcx, as the live kernel's image jumps to
        out.append(JumpTo(ctx.indirect_thunk))
    return _resolve_out(out)


def _resolve_out(items: list[Item]) -> list[Item]:
    """The tail call's `out` label (Fwd to -1) is the end of its sequence."""
    return [Fwd(it.code, len(items)) if isinstance(it, Fwd) and it.to < 0 else it for it in items]


def lower_callx(insn: Insn, pc: int, ctx: Ctx) -> list[Item]:
    """`callx reg` exists only in the ISA suite (Linux has no JIT for it): r11 = the
    helper number, then a call to the machine's callx stub, which dispatches on r11."""
    out: list[Item] = list(x86.mov_reg(True, AUX_REG, insn.dst))
    out.append(CallTo(ctx.resolve(pc, insn)))
    return out


def lower_exit(insn: Insn, pc: int, ctx: Ctx) -> list[Item]:
    """do_jit's BPF_EXIT: the first one holds the epilogue (pops, leave, ret); the
    others jump to it (cleanup_addr)."""
    if ctx.seen_exit:
        return _emit_jmp(ctx.cleanup_addr - ctx.addrs[pc - ctx.start + 1])
    ctx.seen_exit = True
    ctx.cleanup_addr = ctx.proglen
    out: list[Item] = [x86.pop(r) for r in reversed(ctx.callee_regs)]
    out.append(x86.i_0(Code.LEAVEQ))
    if ctx.return_thunk is None:  # emit_return
        out.append(x86.i_0(Code.RETNQ))
    else:
        out.append(JumpTo(ctx.return_thunk))
    return out


def lower_ld_imm64(insn: Insn, pc: int, ctx: Ctx) -> list[Item]:
    """do_jit's BPF_LD|BPF_IMM|BPF_DW: emit_mov_imm64 of the value the loader patched in."""
    if insn.src == 0:
        value = insn.imm64
    elif insn.src == op.PSEUDO_FUNC:
        value = ctx.subprog_address(pc + 1 + insn.imm)
    else:
        value = ctx.resolve(pc, insn)
    return list(x86.mov_imm64(insn.dst, value))


def lower_ld_pkt(insn: Insn, pc: int, ctx: Ctx) -> list[Item]:
    """LD_ABS / LD_IND never reach the JIT: do_misc_fixups rewrites them (gen_ld_abs)."""
    raise JitError(pc, "LD_ABS/LD_IND must be rewritten by the fixup stage before the JIT")


def lower_load(insn: Insn, pc: int, ctx: Ctx) -> list[Item]:
    """do_jit's BPF_LDX|BPF_MEM(SX): emit_ldx / emit_ldsx."""
    if insn.code & 0xE0 == op.MEMSX:
        return [x86.ldsx(insn.size, insn.dst, insn.src, insn.off)]
    return [x86.ldx(insn.size, insn.dst, insn.src, insn.off)]


def lower_store_imm(insn: Insn, pc: int, ctx: Ctx) -> list[Item]:
    """do_jit's BPF_ST|BPF_MEM: mov [dst + off], imm."""
    return [x86.st(insn.size, insn.dst, insn.off, insn.imm)]


def lower_store_reg(insn: Insn, pc: int, ctx: Ctx) -> list[Item]:
    """do_jit's BPF_STX|BPF_MEM: emit_stx."""
    return [x86.stx(insn.size, insn.dst, insn.src, insn.off)]


_RMW: dict[int, tuple[CodeT, CodeT]] = {
    op.ADD: (Code.ADD_RM64_R64, Code.ADD_RM32_R32),
    op.AND: (Code.AND_RM64_R64, Code.AND_RM32_R32),
    op.OR: (Code.OR_RM64_R64, Code.OR_RM32_R32),
    op.XOR: (Code.XOR_RM64_R64, Code.XOR_RM32_R32),
    op.ADD | op.FETCH: (Code.XADD_RM64_R64, Code.XADD_RM32_R32),
    op.XCHG: (Code.XCHG_RM64_R64, Code.XCHG_RM32_R32),
    op.CMPXCHG: (Code.CMPXCHG_RM64_R64, Code.CMPXCHG_RM32_R32),
}


def _rmw(atomic_op: int, size: int, dst: int, src: int, off: int) -> Instruction:
    """emit_atomic_rmw: lock-prefixed add/and/or/xor, xadd, xchg or cmpxchg."""
    is64 = size == 8
    code = _RMW[atomic_op][0 if is64 else 1]
    ins = Instruction.create_mem_reg(code, x86.mem(dst, off), reg(src, 64 if is64 else 32))
    ins.has_lock_prefix = True
    return ins


def lower_atomic(insn: Insn, pc: int, ctx: Ctx) -> list[Item]:
    """do_jit's BPF_STX|BPF_ATOMIC: load-acquire/store-release as plain movs
    (emit_atomic_ld_st), fetch-and/or/xor as a cmpxchg loop, the rest emit_atomic_rmw."""
    imm = insn.imm
    size = insn.size
    if imm == op.LOAD_ACQ:
        return [x86.ldx(size, insn.dst, insn.src, insn.off)]
    if imm == op.STORE_REL:
        return [x86.stx(size, insn.dst, insn.src, insn.off)]
    if imm in (op.AND | op.FETCH, op.OR | op.FETCH, op.XOR | op.FETCH):
        is64 = size == 8
        bits = 64 if is64 else 32
        src = REG_AX if insn.src == 0 else insn.src
        dst = REG_AX if insn.dst == 0 else insn.dst
        out: list[Item] = list(x86.mov_reg(True, REG_AX, 0))  # save R0 in r10
        loop = len(out)
        out.append(x86.ldx(size, 0, dst, insn.off))  # load the old value
        out += x86.mov_reg(is64, AUX_REG, 0)
        name = {op.AND: "and", op.OR: "or", op.XOR: "xor"}[imm & ~op.FETCH]
        out.append(x86.i_rr(x86.ALU_RR[name][0 if is64 else 1], reg(AUX_REG, bits), reg(src, bits)))
        out.append(_rmw(op.CMPXCHG, size, dst, AUX_REG, insn.off))
        out.append(Back(Code.JNE_REL8_64, loop))
        out += x86.mov_reg(is64, src, 0)  # the old value to src
        out += x86.mov_reg(True, 0, REG_AX)  # restore R0
        return out
    return [_rmw(imm, size, insn.dst, insn.src, insn.off)]


Lowering = Callable[[Insn, int, Ctx], list[Item]]

LOWER: dict[Kind, Lowering] = {
    Kind.ALU: lower_alu,
    Kind.NEG: lower_neg,
    Kind.END: lower_end,
    Kind.JA: lower_ja,
    Kind.JCOND: lower_jcond,
    Kind.MAY_GOTO: lower_may_goto,
    Kind.CALL: lower_call,
    Kind.CALLX: lower_callx,
    Kind.EXIT: lower_exit,
    Kind.LD_IMM64: lower_ld_imm64,
    Kind.LD_PKT: lower_ld_pkt,
    Kind.LOAD: lower_load,
    Kind.STORE_IMM: lower_store_imm,
    Kind.STORE_REG: lower_store_reg,
    Kind.ATOMIC: lower_atomic,
}
