"""The fixup stage against what kernel/bpf/verifier.c does to the same instructions."""

from __future__ import annotations

import pytest

from fixup.helpers import THROW, program
from framework.fixup import HIDDEN_CB, META_BASE, SKB_LAYOUT, CtxError, fixup_slots, stock_fixup
from framework.fixup.ctx import convert_skb_access
from framework.isa import opcodes as op
from framework.isa.llvm_asm import assemble
from framework.load.corpus import corpus_entries, manifests


def _names(prog_slots: tuple[object, ...]) -> list[str]:
    return [i.spec.name for i in prog_slots if i is not None]  # type: ignore[attr-defined]


def test_hidden_callback_is_appended_when_a_program_throws_without_one() -> None:
    fixed = stock_fixup(program(["r1 = 9", THROW, "exit"]))
    assert fixed.hidden_cb
    last = fixed.program.subprogs[-1]
    assert (last.name, last.is_exception_cb) == (HIDDEN_CB, True)
    assert _names(fixed.program.slots[last.start : last.end]) == ["alu64_mov_x", "exit"]


def test_code_after_bpf_throw_is_removed_and_jumps_follow() -> None:
    fixed = stock_fixup(program(["if r1 == 0 goto +3", "r1 = 1", THROW, "r0 = 7", "r0 = 0", "exit"]))
    assert fixed.removed == frozenset({3})
    jump = fixed.program.slots[0]
    assert jump is not None and jump.jump_target(0) == fixed.pc_map[4]


def test_ja_zero_is_removed() -> None:
    fixed = stock_fixup(program(["r0 = 1", "goto +0", "exit"], kfuncs=()))
    assert _names(fixed.program.slots) == ["alu64_mov_k", "exit"]
    assert fixed.pc_map == (0, 1, 1, 2)


def test_tc_ctx_loads_become_sk_buff_loads() -> None:
    lines = ["r6 = r1", "r2 = *(u32 *)(r6 + 76)", "r3 = *(u32 *)(r1 + 80)", "r4 = *(u32 *)(r6 + 0)"]
    lines += ["r5 = *(u32 *)(r6 + 16)", "r0 = *(u32 *)(r6 + 40)", "r0 = *(u8 *)(r2 + 0)", "exit"]
    fixed = stock_fixup(program(lines, kfuncs=()))
    got = [(i.spec.name, i.off) for i in fixed.program.slots if i is not None and i.kind.value == "load"]
    assert got == [
        ("ldx_dw", SKB_LAYOUT.data),
        ("ldx_dw", SKB_LAYOUT.cb + SKB_LAYOUT.data_end),
        ("ldx_w", SKB_LAYOUT.len),
        ("ldx_h", SKB_LAYOUT.protocol),
        ("ldx_dw", SKB_LAYOUT.dev),
        ("ldx_w", SKB_LAYOUT.dev_ifindex),
        ("ldx_b", 0),  # the packet load is not a ctx load
    ]


def test_an_access_linux_refuses_is_not_converted() -> None:
    with pytest.raises(CtxError, match=r"offset 88 \(size 4\) is refused by Linux"):
        convert_skb_access(assemble(["r0 = *(u32 *)(r1 + 88)"]).slots[0] or assemble(["exit"]).slots[0])


def test_obj_new_gets_size_and_meta_as_fixup_kfunc_call_patches_them() -> None:
    entry = next(e for m in manifests() for e in corpus_entries(m) if e.program.name == "three_frames_clean")
    fixed = stock_fixup(entry.program)
    pc, fix = fixed.kfunc_calls[0]
    assert fix.name == "bpf_obj_new_impl" and fix.size == 16 and fix.meta == META_BASE + fix.type_id
    mov, ld = fixed.program.slots[pc - 3], fixed.program.slots[pc - 2]
    assert mov is not None and (mov.spec.name, mov.dst, mov.imm) == ("alu64_mov_k", 1, 16)
    assert ld is not None and ld.kind.value == "ld_imm64" and ld.dst == 2 and ld.imm64 == fix.meta
    call = fixed.program.slots[pc]
    assert call is not None and call.src == op.PSEUDO_KFUNC_CALL


def test_division_guards_keep_jumps_across_them() -> None:
    slots = assemble(["if r1 == 0 goto +1", "r0 /= r1", "exit"]).slots
    fixed = fixup_slots(slots)
    assert len(fixed.slots) == 6  # jne, xor, ja, div in place of the div
    first = fixed.slots[0]
    assert first is not None and first.jump_target(0) == fixed.pc_map[2]


def test_every_corpus_program_goes_through() -> None:
    for m in manifests():
        for e in corpus_entries(m):
            fixed = stock_fixup(e.program)
            assert len(fixed.pc_map) == len(e.program.slots) + 1
            assert fixed.program.subprogs[0].start == 0


@pytest.mark.parametrize("size", [14, 20, 64])
def test_ld_abs_and_ld_ind_run_the_same_on_both_engines(size: int) -> None:
    from framework.load.corpus import RunInput
    from framework.run.result import run_program

    lines = ["r6 = r1", "r0 = *(u8 *)skb[12]", "r7 = r0", "r0 = *(u16 *)skb[12]", "r7 += r0"]
    lines += ["r8 = 3", "r0 = *(u32 *)skb[r8 + 13]", "r0 += r7", "exit"]
    prog = program(lines, kfuncs=())
    inp = RunInput("p", packet=bytes(range(64))[:size])
    want, got = run_program(prog, inp, "interp"), run_program(prog, inp, "jit")
    assert (got.r0, got.fault) == (want.r0, None)


def test_timed_may_goto_bounds_a_loop_as_the_counter_does_until_it_expires() -> None:
    from framework.run.result import run_program

    short = program(["r0 = 0", "l:", "may_goto +2", "r0 += 1", "if r0 < 5000 goto l", "exit"], kfuncs=())
    assert run_program(short, None, "jit").r0 == run_program(short, None, "interp").r0 == 5000
    endless = program(["r0 = 0", "l:", "may_goto +2", "r0 += 1", "goto l", "exit"], kfuncs=())
    # the timed form ends after 129 x 0xffff iterations of the emulated clock, on both engines
    assert run_program(endless, None, "jit").r0 == run_program(endless, None, "interp").r0 == 129 * 0xFFFF


def test_array_map_lookups_are_inlined_as_map_gen_lookup_does() -> None:
    entry = next(e for m in manifests() for e in corpus_entries(m) if e.program.name == "spin_locked_clean")
    fixed = stock_fixup(entry.program)
    assert fixed.inlined_maps
    assert _names(fixed.program.slots).count("call") < _names(entry.program.slots).count("call")
    add = next(i for i in fixed.program.slots if i is not None and i.spec.name == "alu64_add_k" and i.imm == 0x138)
    assert add.dst == 1  # r1 += offsetof(struct bpf_array, value)
