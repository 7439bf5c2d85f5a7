"""BPF_TAIL_CALL on x86-64: emit_bpf_tail_call_direct and _indirect (arch/x86/net/bpf_jit_comp.c,
Linux 6.18), and the tail-call counter pointer every tail-call-reachable frame keeps.

The bpf_array and bpf_prog offsets the code reads are `framework.platform.tailcall`'s,
checked against the running kernel's BTF.
"""

from __future__ import annotations

from iced_x86 import Code, Instruction, MemoryOperand, Register

from framework.isa.insn import Insn
from framework.jit import x86
from framework.jit.items import Ctx, Fwd, Item, JitError, JumpTo
from framework.jit.x86 import reg
from framework.platform.tailcall import (
    BPF_ARRAY_MAX_ENTRIES,
    BPF_ARRAY_PTRS,
    BPF_PROG_BPF_FUNC,
    MAX_TAIL_CALL_CNT,
    X86_TAIL_CALL_OFFSET,
)

_RSP = Register.RSP


def tcc_ptr_off(depth: int) -> int:
    """BPF_TAIL_CALL_CNT_PTR_STACK_OFF: the counter pointer's slot, below the BPF stack."""
    return -16 - (depth + 7) // 8 * 8


def load_tcc_ptr(depth: int) -> Instruction:
    """LOAD_TAIL_CALL_CNT_PTR: mov rax, qword ptr [rbp - tcc_ptr_off], always disp32 (48 8b 85;
    iced spells a disp32 as size 8 in 64-bit code)."""
    slot = MemoryOperand(reg(10), displ=tcc_ptr_off(depth), displ_size=8)
    return Instruction.create_reg_mem(Code.MOV_R64_RM64, reg(0), slot)


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
