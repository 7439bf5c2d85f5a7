"""One `lower_<kind>` per ISA Kind: a BPF instruction to the x86 sequence do_jit emits.

Each function re-expresses one part of do_jit (arch/x86/net/bpf_jit_comp.c, Linux
6.18) and returns a list of items (`framework.jit.items`): iced `Instruction`s and
the placeholders the pass driver resolves once it knows where the code lands. Tail
calls are `framework.jit.tailcall`'s.
"""

from __future__ import annotations

from collections.abc import Callable

from iced_x86 import Code, Instruction, Register

from framework.fixup.maygoto import TIMED_MAY_GOTO
from framework.isa import opcodes as op
from framework.isa.insn import Insn
from framework.isa.opcodes import Kind
from framework.jit import x86
from framework.jit.items import Back, Branch, CallTo, Ctx, Item, JitError, JumpTo
from framework.jit.tailcall import load_tcc_ptr, lower_tail_call
from framework.jit.x86 import AUX_REG, REG_AX, CodeT, reg

_RSP = Register.RSP


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
