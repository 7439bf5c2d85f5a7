"""The verifier-log printer: golden lines written from kernel/bpf/disasm.c's formats (Linux 6.18)."""

from __future__ import annotations

import pytest

from framework.isa import opcodes as op
from framework.isa.insn import Insn, make
from framework.isa.kernel_syntax import format_insn
from framework.isa.llvm_asm import parse_line


def asm(text: str) -> Insn:
    insn = parse_line(text)
    assert isinstance(insn, Insn)
    return insn


# (LLVM text or fields, what the verifier log shows). Written by hand from the
# printf formats in print_bpf_insn, not produced by the printer under test.
GOLDEN = [
    (asm("r1 = r6"), "(bf) r1 = r6"),
    (asm("r1 += -8"), "(07) r1 += -8"),
    (asm("r2 = r10"), "(bf) r2 = r10"),
    (asm("w0 = 0"), "(b4) w0 = 0"),
    (asm("r0 = 1"), "(b7) r0 = 1"),
    (asm("w3 &= 255"), "(54) w3 &= 255"),
    (asm("r4 <<= r5"), "(6f) r4 <<= r5"),
    (asm("w1 s>>= 31"), "(c4) w1 s>>= 31"),
    (asm("r1 = -r1"), "(87) r1 = -r1"),
    (asm("w7 = -w7"), "(84) w7 = -w7"),
    (asm("r1 s/= r2"), "(3f) r1 s/= r2"),
    (asm("w1 s%= -3"), "(94) w1 s%= -3"),
    (asm("r1 s/= 10"), "(37) r1 s/= 10"),
    (asm("r3 = (s8)r4"), "(bf) r3 = (s8)r4"),
    (asm("r3 = (s32)r4"), "(bf) r3 = (s32)r4"),
    (asm("w3 = (s16)w4"), "(bc) w3 = (s16)w4"),
    (asm("r2 = be16 r2"), "(dc) r2 = be16 r2"),
    (asm("r2 = le64 r2"), "(d4) r2 = le64 r2"),
    (asm("r2 = bswap32 r2"), "(d7) r2 = bswap32 r2"),
    (asm("r1 = addr_space_cast(r2, 0, 1)"), "(bf) r1 = addr_space_cast(r2, 0, 1)"),
    (asm("r1 = addr_space_cast(r1, 1, 0)"), "(bf) r1 = addr_space_cast(r1, 1, 0)"),
    (asm("r1 = *(u32 *)(r1 + 0)"), "(61) r1 = *(u32 *)(r1 +0)"),
    (asm("r2 = *(u64 *)(r10 - 16)"), "(79) r2 = *(u64 *)(r10 -16)"),
    (asm("w2 = *(u8 *)(r1 + 3)"), "(71) r2 = *(u8 *)(r1 +3)"),
    (asm("r2 = *(s16 *)(r1 + 2)"), "(89) r2 = *(s16 *)(r1 +2)"),
    (asm("r2 = *(s32 *)(r1 - 4)"), "(81) r2 = *(s32 *)(r1 -4)"),
    (asm("*(u64 *)(r10 - 8) = r1"), "(7b) *(u64 *)(r10 -8) = r1"),
    (asm("*(u32 *)(r10 - 4) = w1"), "(63) *(u32 *)(r10 -4) = r1"),
    (asm("*(u64 *)(r10 - 8) = 0"), "(7a) *(u64 *)(r10 -8) = 0"),
    (asm("*(u16 *)(r10 - 2) = -1"), "(6a) *(u16 *)(r10 -2) = -1"),
    (asm("if r1 == 0 goto +2"), "(15) if r1 == 0x0 goto pc+2"),
    (asm("if r1 != -1 goto -3"), "(55) if r1 != 0xffffffff goto pc-3"),
    (asm("if w0 s> 7 goto +0"), "(66) if w0 s> 0x7 goto pc+0"),
    (asm("if r2 > r3 goto +5"), "(2d) if r2 > r3 goto pc+5"),
    (asm("if w2 s<= w3 goto -1"), "(de) if w2 s<= w3 goto pc-1"),
    (asm("if r1 & 0x10 goto +1"), "(45) if r1 & 0x10 goto pc+1"),
    (asm("goto +7"), "(05) goto pc+7"),
    (asm("goto -1"), "(05) goto pc-1"),
    (asm("gotol +70000"), "(06) gotol pc+70000"),
    (asm("may_goto +3"), "(e5) may_goto pc+3"),
    (asm("exit"), "(95) exit"),
    (asm("call 1"), "(85) call bpf_map_lookup_elem#1"),
    (asm("call 12"), "(85) call bpf_tail_call#12"),
    (asm("call 211"), "(85) call bpf_cgrp_storage_delete#211"),
    (asm("call 212"), "(85) call unknown#212"),
    (make(op.JMP | op.CALL, src=op.PSEUDO_CALL, imm=5), "(85) call pc+5"),
    (make(op.JMP | op.CALL, src=op.PSEUDO_CALL, imm=-9), "(85) call pc-9"),
    (make(op.JMP | op.CALL, src=op.PSEUDO_KFUNC_CALL, imm=12345), "(85) call kernel-function#12345"),
    (asm("callx r1"), "(8d) callx r1"),
    (asm("r1 = 0x1122334455667788 ll"), "(18) r1 = 0x1122334455667788"),
    (asm("r1 = -1 ll"), "(18) r1 = 0xffffffffffffffff"),
    (asm("r0 = 0 ll"), "(18) r0 = 0x0"),
    (make(op.LD | op.IMM | op.DW, 1, op.PSEUDO_MAP_FD, imm=3), "(18) r1 = 0x3"),
    (asm("r0 = *(u8 *)skb[23]"), "(30) r0 = *(u8 *)skb[23]"),
    (asm("r0 = *(u32 *)skb[-4]"), "(20) r0 = *(u32 *)skb[-4]"),
    (asm("r0 = *(u16 *)skb[r6]"), "(48) r0 = *(u16 *)skb[r6 + 0]"),
    (make(op.LD | op.IND | op.W, src=7, imm=14), "(40) r0 = *(u32 *)skb[r7 + 14]"),
    (asm("lock *(u64 *)(r1 + 8) += r2"), "(db) lock *(u64 *)(r1 +8) += r2"),
    (asm("lock *(u32 *)(r1 + 0) ^= w2"), "(c3) lock *(u32 *)(r1 +0) ^= r2"),
    (asm("r2 = atomic_fetch_or((u64 *)(r1 - 8), r2)"), "(db) r2 = atomic64_fetch_or((u64 *)(r1 -8), r2)"),
    (asm("w2 = atomic_fetch_and((u32 *)(r1 + 4), w2)"), "(c3) r2 = atomic_fetch_and((u32 *)(r1 +4), r2)"),
    (asm("r3 = xchg_64(r1 + 0, r3)"), "(db) r3 = atomic64_xchg((u64 *)(r1 +0), r3)"),
    (asm("w3 = xchg32_32(r1 + 0, w3)"), "(c3) r3 = atomic_xchg((u32 *)(r1 +0), r3)"),
    (asm("r0 = cmpxchg_64(r1 + 16, r0, r4)"), "(db) r0 = atomic64_cmpxchg((u64 *)(r1 +16), r0, r4)"),
    (asm("w0 = cmpxchg32_32(r1 + 16, w0, w4)"), "(c3) r0 = atomic_cmpxchg((u32 *)(r1 +16), r0, r4)"),
    (asm("r0 = load_acquire((u64 *)(r1 + 0))"), "(db) r0 = load_acquire((u64 *)(r1 +0))"),
    (asm("w0 = load_acquire((u8 *)(r1 + 2))"), "(d3) r0 = load_acquire((u8 *)(r1 +2))"),
    (asm("store_release((u16 *)(r1 - 2), w3)"), "(cb) store_release((u16 *)(r1 -2), r3)"),
    (asm("store_release((u64 *)(r10 - 8), r3)"), "(db) store_release((u64 *)(r10 -8), r3)"),
]


@pytest.mark.parametrize(("insn", "text"), GOLDEN, ids=[t for _, t in GOLDEN])
def test_golden(insn: Insn, text: str) -> None:
    assert format_insn(insn) == text


def test_kfunc_named_by_callback() -> None:
    """As the verifier's disasm_kfunc_name names a kfunc from its BTF id."""
    names = {12345: "bpf_throw"}

    def kfunc_name(insn: Insn) -> str | None:
        return names.get(insn.imm) if insn.src == op.PSEUDO_KFUNC_CALL else None

    kfunc = make(op.JMP | op.CALL, src=op.PSEUDO_KFUNC_CALL, imm=12345)
    assert format_insn(kfunc, call_name=kfunc_name) == "(85) call bpf_throw#12345"
    # A callback returning None falls back to the kernel's own text.
    pseudo = make(op.JMP | op.CALL, src=op.PSEUDO_CALL, imm=5)
    assert format_insn(pseudo, call_name=kfunc_name) == "(85) call pc+5"
    unnamed = make(op.JMP | op.CALL, src=op.PSEUDO_KFUNC_CALL, imm=7)
    assert format_insn(unnamed, call_name=kfunc_name) == "(85) call kernel-function#7"


def test_helper_table_wins_over_callback() -> None:
    """__func_get_name asks cb_call only for what func_id_str does not name."""
    calls: list[Insn] = []

    def spy(insn: Insn) -> str | None:
        calls.append(insn)
        return "nope"

    assert format_insn(make(op.JMP | op.CALL, imm=5), call_name=spy) == "(85) call bpf_ktime_get_ns#5"
    assert calls == []
    assert format_insn(make(op.JMP | op.CALL, imm=9999), call_name=spy) == "(85) call nope#9999"
    assert format_insn(make(op.JMP | op.CALL, src=op.PSEUDO_CALL, imm=3), call_name=spy) == "(85) call pcnope"


def test_imm64_callback() -> None:
    insn = make(op.LD | op.IMM | op.DW, 1, op.PSEUDO_MAP_FD, imm=4)
    assert (
        format_insn(insn, imm64=lambda i: "map[id:7]" if i.src == op.PSEUDO_MAP_FD else None) == "(18) r1 = map[id:7]"
    )
    assert format_insn(insn, imm64=lambda i: None) == "(18) r1 = 0x4"


def test_may_goto_with_nonzero_src_prints_as_the_kernel_does() -> None:
    """print_bpf_insn prints may_goto only when src_reg is BPF_MAY_GOTO (0)."""
    odd = make(op.JMP | op.JCOND, dst=1, src=1, off=2)
    assert format_insn(odd) == "(e5) if r1 (null) 0x0 goto pc+2"


def test_every_opcode_byte_in_hex() -> None:
    for code, text in ((0x07, "(07)"), (0xDB, "(db)"), (0x8D, "(8d)")):
        insn = next(i for i, _ in GOLDEN if i.code == code)
        assert format_insn(insn).startswith(text + " ")
