"""x86-64 building blocks of the Linux x86 BPF JIT, expressed as iced-x86 instructions.

Every helper returns iced `Instruction`s; nothing here writes bytes by hand.
The register map and the instruction choices follow arch/x86/net/bpf_jit_comp.c
(Linux 6.18): the function each helper re-expresses is named beside it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from iced_x86 import Code, Instruction, MemoryOperand
from iced_x86 import Register as R

if TYPE_CHECKING:
    from iced_x86._iced_x86_py import Code as CodeT
    from iced_x86._iced_x86_py import Register as RegT
else:  # iced declares both as ints at run time
    CodeT = int
    RegT = int

__all__ = ["CodeT", "RegT"]

# BPF register numbers the JIT uses beyond R0-R10 (include/linux/filter.h and
# bpf_jit_comp.c: BPF_REG_AX = MAX_BPF_REG, AUX_REG, X86_REG_R9, X86_REG_R12).
REG_AX = 11
AUX_REG = 12
X86_REG_R9 = 13
X86_REG_R12 = 14

# reg2hex in bpf_jit_comp.c, as iced registers per width: 64, 32, 16, 8.
_MAP: dict[int, tuple[RegT, RegT, RegT, RegT]] = {
    0: (R.RAX, R.EAX, R.AX, R.AL),
    1: (R.RDI, R.EDI, R.DI, R.DIL),
    2: (R.RSI, R.ESI, R.SI, R.SIL),
    3: (R.RDX, R.EDX, R.DX, R.DL),
    4: (R.RCX, R.ECX, R.CX, R.CL),
    5: (R.R8, R.R8D, R.R8W, R.R8L),
    6: (R.RBX, R.EBX, R.BX, R.BL),
    7: (R.R13, R.R13D, R.R13W, R.R13L),
    8: (R.R14, R.R14D, R.R14W, R.R14L),
    9: (R.R15, R.R15D, R.R15W, R.R15L),
    10: (R.RBP, R.EBP, R.BP, R.BPL),
    REG_AX: (R.R10, R.R10D, R.R10W, R.R10L),
    AUX_REG: (R.R11, R.R11D, R.R11W, R.R11L),
    X86_REG_R9: (R.R9, R.R9D, R.R9W, R.R9L),
    X86_REG_R12: (R.R12, R.R12D, R.R12W, R.R12L),
}
_WIDTH = {64: 0, 32: 1, 16: 2, 8: 3}

# Names of the x86 registers BPF registers live in, for documentation and listings.
REGISTER_MAP: dict[str, str] = {
    "r0": "rax", "r1": "rdi", "r2": "rsi", "r3": "rdx", "r4": "rcx", "r5": "r8",
    "r6": "rbx", "r7": "r13", "r8": "r14", "r9": "r15", "r10": "rbp",
    "ax": "r10", "aux": "r11",
}  # fmt: skip


def reg(bpf: int, bits: int = 64) -> RegT:
    """The iced register holding BPF register `bpf` at width `bits` (reg2hex)."""
    return _MAP[bpf][_WIDTH[bits]]


def mem(base: int, off: int) -> MemoryOperand:
    """[base + off]: disp8 when it fits, else disp32, as emit_insn_suffix picks."""
    return MemoryOperand(reg(base), displ=off, displ_size=1)


def i_rr(code: CodeT, a: RegT, b: RegT) -> Instruction:
    return Instruction.create_reg_reg(code, a, b)


def i_ri(code: CodeT, a: RegT, imm: int) -> Instruction:
    return Instruction.create_reg_i32(code, a, imm)


def i_r(code: CodeT, a: RegT) -> Instruction:
    return Instruction.create_reg(code, a)


def i_0(code: CodeT) -> Instruction:
    return Instruction.create(code)


def nops(length: int) -> list[Instruction]:
    """emit_nops with the kernel's x86_nops table for lengths 2, 3 and 5."""
    out: list[Instruction] = []
    while length > 0:
        n = 5 if length >= 5 else 3 if length >= 3 else 2 if length == 2 else 1
        if n == 5:  # 0f 1f 44 00 00
            out.append(Instruction.create_mem(Code.NOP_RM32, MemoryOperand(R.RAX, R.RAX, 1, 0, 1)))
        elif n == 3:  # 0f 1f 00
            out.append(Instruction.create_mem(Code.NOP_RM32, MemoryOperand(R.RAX)))
        elif n == 2:  # 66 90
            out.append(i_0(Code.NOPW))
        else:
            out.append(i_0(Code.NOPD))
        length -= n
    return out


def mov_reg(is64: bool, dst: int, src: int) -> list[Instruction]:
    """emit_mov_reg (and EMIT_mov for 64 bits, which drops a mov to itself)."""
    if is64:
        return [] if dst == src else [i_rr(Code.MOV_RM64_R64, reg(dst), reg(src))]
    return [i_rr(Code.MOV_RM32_R32, reg(dst, 32), reg(src, 32))]


def mov_imm32(sign_propagate: bool, dst: int, imm32: int) -> list[Instruction]:
    """emit_mov_imm32: sign-extending mov for negatives, xor for zero, else mov r32."""
    imm32 &= 0xFFFFFFFF
    if sign_propagate and imm32 & 0x80000000:
        return [i_ri(Code.MOV_RM64_IMM32, reg(dst), imm32 - (1 << 32))]
    if imm32 == 0:
        return [i_rr(Code.XOR_RM32_R32, reg(dst, 32), reg(dst, 32))]
    return [Instruction.create_reg_u32(Code.MOV_R32_IMM32, reg(dst, 32), imm32)]


def mov_imm64(dst: int, value: int) -> list[Instruction]:
    """emit_mov_imm64: the shortest of mov r32 / sign-extended mov / movabs."""
    value &= (1 << 64) - 1
    if value < (1 << 32):
        return mov_imm32(False, dst, value)
    if value >= (1 << 64) - (1 << 31):
        return mov_imm32(True, dst, value & 0xFFFFFFFF)
    return [Instruction.create_reg_u64(Code.MOV_R64_IMM64, reg(dst), value)]


_LDX: dict[int, CodeT] = {1: Code.MOVZX_R64_RM8, 2: Code.MOVZX_R64_RM16, 4: Code.MOV_R32_RM32, 8: Code.MOV_R64_RM64}
_LDSX: dict[int, CodeT] = {1: Code.MOVSX_R64_RM8, 2: Code.MOVSX_R64_RM16, 4: Code.MOVSXD_R64_RM32}


def ldx(size: int, dst: int, src: int, off: int) -> Instruction:
    """emit_ldx: movzx for bytes and halves (with REX.W), mov for words and doublewords."""
    bits = 32 if size == 4 else 64
    return Instruction.create_reg_mem(_LDX[size], reg(dst, bits), mem(src, off))


def ldsx(size: int, dst: int, src: int, off: int) -> Instruction:
    """emit_ldsx: movsx / movsxd into the 64-bit register."""
    return Instruction.create_reg_mem(_LDSX[size], reg(dst), mem(src, off))


_STX: dict[int, tuple[CodeT, int]] = {
    1: (Code.MOV_RM8_R8, 8),
    2: (Code.MOV_RM16_R16, 16),
    4: (Code.MOV_RM32_R32, 32),
    8: (Code.MOV_RM64_R64, 64),
}
_ST: dict[int, CodeT] = {1: Code.MOV_RM8_IMM8, 2: Code.MOV_RM16_IMM16, 4: Code.MOV_RM32_IMM32, 8: Code.MOV_RM64_IMM32}


def stx(size: int, dst: int, src: int, off: int) -> Instruction:
    """emit_stx: mov [dst + off], src at the access width."""
    code, bits = _STX[size]
    return Instruction.create_mem_reg(code, mem(dst, off), reg(src, bits))


def st(size: int, dst: int, off: int, imm: int) -> Instruction:
    """do_jit's BPF_ST|BPF_MEM: mov [dst + off], imm (imm32 sign-extended for DW)."""
    if size == 8:
        return Instruction.create_mem_i32(_ST[size], mem(dst, off), imm)
    mask = (1 << (8 * size)) - 1
    return Instruction.create_mem_u32(_ST[size], mem(dst, off), imm & mask)


# simple_alu_opcodes (reg, reg forms) and do_jit's imm forms per BPF op:
# (rm64_r64, rm32_r32, rm64_imm8, rm32_imm8, rax_imm32, eax_imm32, rm64_imm32, rm32_imm32)
ALU_RR: dict[str, tuple[CodeT, CodeT]] = {
    "add": (Code.ADD_RM64_R64, Code.ADD_RM32_R32),
    "sub": (Code.SUB_RM64_R64, Code.SUB_RM32_R32),
    "and": (Code.AND_RM64_R64, Code.AND_RM32_R32),
    "or": (Code.OR_RM64_R64, Code.OR_RM32_R32),
    "xor": (Code.XOR_RM64_R64, Code.XOR_RM32_R32),
}
ALU_RI: dict[str, tuple[CodeT, CodeT, CodeT, CodeT, CodeT, CodeT]] = {
    "add": (
        Code.ADD_RM64_IMM8, Code.ADD_RM32_IMM8, Code.ADD_RAX_IMM32,
        Code.ADD_EAX_IMM32, Code.ADD_RM64_IMM32, Code.ADD_RM32_IMM32,
    ),
    "sub": (
        Code.SUB_RM64_IMM8, Code.SUB_RM32_IMM8, Code.SUB_RAX_IMM32,
        Code.SUB_EAX_IMM32, Code.SUB_RM64_IMM32, Code.SUB_RM32_IMM32,
    ),
    "and": (
        Code.AND_RM64_IMM8, Code.AND_RM32_IMM8, Code.AND_RAX_IMM32,
        Code.AND_EAX_IMM32, Code.AND_RM64_IMM32, Code.AND_RM32_IMM32,
    ),
    "or": (
        Code.OR_RM64_IMM8, Code.OR_RM32_IMM8, Code.OR_RAX_IMM32,
        Code.OR_EAX_IMM32, Code.OR_RM64_IMM32, Code.OR_RM32_IMM32,
    ),
    "xor": (
        Code.XOR_RM64_IMM8, Code.XOR_RM32_IMM8, Code.XOR_RAX_IMM32,
        Code.XOR_EAX_IMM32, Code.XOR_RM64_IMM32, Code.XOR_RM32_IMM32,
    ),
}  # fmt: skip
# Shifts: (by 1, by imm8, by cl, bmi2 x-form) for 64 and 32 bits.
SHIFT: dict[str, tuple[tuple[CodeT, CodeT, CodeT, CodeT], tuple[CodeT, CodeT, CodeT, CodeT]]] = {
    "lsh": ((Code.SHL_RM64_1, Code.SHL_RM64_IMM8, Code.SHL_RM64_CL, Code.VEX_SHLX_R64_RM64_R64),
            (Code.SHL_RM32_1, Code.SHL_RM32_IMM8, Code.SHL_RM32_CL, Code.VEX_SHLX_R32_RM32_R32)),
    "rsh": ((Code.SHR_RM64_1, Code.SHR_RM64_IMM8, Code.SHR_RM64_CL, Code.VEX_SHRX_R64_RM64_R64),
            (Code.SHR_RM32_1, Code.SHR_RM32_IMM8, Code.SHR_RM32_CL, Code.VEX_SHRX_R32_RM32_R32)),
    "arsh": ((Code.SAR_RM64_1, Code.SAR_RM64_IMM8, Code.SAR_RM64_CL, Code.VEX_SARX_R64_RM64_R64),
             (Code.SAR_RM32_1, Code.SAR_RM32_IMM8, Code.SAR_RM32_CL, Code.VEX_SARX_R32_RM32_R32)),
}  # fmt: skip

# emit_cond_jmp: BPF jump op -> (rel8 code, rel32 code).
JCC: dict[str, tuple[CodeT, CodeT]] = {
    "jeq": (Code.JE_REL8_64, Code.JE_REL32_64),
    "jset": (Code.JNE_REL8_64, Code.JNE_REL32_64),
    "jne": (Code.JNE_REL8_64, Code.JNE_REL32_64),
    "jgt": (Code.JA_REL8_64, Code.JA_REL32_64),
    "jlt": (Code.JB_REL8_64, Code.JB_REL32_64),
    "jge": (Code.JAE_REL8_64, Code.JAE_REL32_64),
    "jle": (Code.JBE_REL8_64, Code.JBE_REL32_64),
    "jsgt": (Code.JG_REL8_64, Code.JG_REL32_64),
    "jslt": (Code.JL_REL8_64, Code.JL_REL32_64),
    "jsge": (Code.JGE_REL8_64, Code.JGE_REL32_64),
    "jsle": (Code.JLE_REL8_64, Code.JLE_REL32_64),
}
JMP: tuple[CodeT, CodeT] = (Code.JMP_REL8_64, Code.JMP_REL32_64)

# push_callee_regs / pop_callee_regs order: rbx, r13, r14, r15 (BPF R6-R9).
CALLEE_SAVED = (6, 7, 8, 9)


def push(bpf: int) -> Instruction:
    return i_r(Code.PUSH_R64, reg(bpf))


def pop(bpf: int) -> Instruction:
    return i_r(Code.POP_R64, reg(bpf))


def is_ereg(bpf: int) -> bool:
    """is_ereg: the BPF register lives in r8-r15 (needs a REX bit)."""
    return bpf in (5, 7, 8, 9, REG_AX, AUX_REG, X86_REG_R9, X86_REG_R12)


def is_imm8(value: int) -> bool:
    """is_imm8."""
    return -128 <= value <= 127


def is_imm8_jmp_offset(value: int) -> bool:
    """is_imm8_jmp_offset: positive short offsets stop at 123 so passes converge."""
    return -128 <= value <= 123
