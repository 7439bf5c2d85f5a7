"""The JIT's instruction selection, byte for byte against what Linux 6.18's do_jit emits."""

from __future__ import annotations

import inspect

import pytest
from iced_x86 import Decoder, Formatter, FormatterSyntax

from framework.isa.decode import Slots
from framework.isa.llvm_asm import assemble
from framework.isa.opcodes import Kind
from framework.jit import LOWER, JitError, NativeImage, SubprogSpec
from framework.jit import jit as _jit
from framework.jit import lower as lower_mod
from framework.machine import StubResolver

NOP5_NOP3 = "0f1f440000" + "0f1f00"
PUSH_RBP_MOV = "55" + "4889e5"


def jit(*args: object, **kw: object) -> NativeImage:
    """The JIT with a plain `ret` (no return thunk), as emit_return emits without RETHUNK."""
    kw.setdefault("return_thunk", None)
    return _jit(*args, **kw)  # type: ignore[arg-type]


def asm(*lines: str) -> Slots:
    return assemble(lines).slots


def body(*lines: str, depth: int = 0, bmi2: bool = True) -> str:
    """Hex of the code after the prologue and before the epilogue's `leave; ret` (program ends in exit)."""
    image = jit(asm(*lines), stack_depths=[depth], resolver=StubResolver(), bmi2=bmi2)
    frame = image.frames[0]
    return image.code[frame.body - frame.entry :].hex()


def listing(code: bytes) -> list[str]:
    fmt = Formatter(FormatterSyntax.INTEL)
    return [fmt.format(i) for i in Decoder(64, code)]


def test_every_kind_has_its_lowering() -> None:
    assert set(LOWER) == set(Kind)
    for kind, fn in LOWER.items():
        assert fn.__name__ == f"lower_{kind.value}"
        assert getattr(lower_mod, fn.__name__) is fn
        assert inspect.getdoc(fn)


def test_prologue_and_epilogue() -> None:
    image = jit(asm("r0 = 0", "exit"), stack_depths=[12])
    # emit_prologue: nop5, nop3, push rbp; mov rbp,rsp; sub rsp, round_up(12, 8) as imm32
    assert image.code.hex() == NOP5_NOP3 + PUSH_RBP_MOV + "4881ec10000000" + "31c0" + "c9c3"
    frame = image.frames[0]
    assert frame.stack_size == 16 and frame.pushed == () and frame.rsp_below_entry == 24


def test_callee_saved_pushes_only_used_ones() -> None:
    code = jit(asm("r7 = 1", "r0 = r7", "exit"), stack_depths=[0]).code.hex()
    assert code == NOP5_NOP3 + PUSH_RBP_MOV + "4155" + "41bd01000000" + "4c89e8" + "415d" + "c9c3"


def test_exception_boundary_saves_r12_and_all_callee_saved() -> None:
    image = jit(asm("r0 = 0", "exit"), stack_depths=[0], exception_boundary=True)
    pushes = "4154" + "53" + "4155" + "4156" + "4157"
    pops = "415f" + "415e" + "415d" + "5b" + "415c"
    assert image.code.hex() == NOP5_NOP3 + PUSH_RBP_MOV + pushes + "31c0" + pops + "c9c3"
    assert image.frames[0].pushed == ("r12", "rbx", "r13", "r14", "r15")


def test_exception_callback_prologue_reuses_the_boundary_frame() -> None:
    slots = asm("r0 = 0", "exit", "r0 = r1", "exit")
    subs = [SubprogSpec("main", 0, 2), SubprogSpec("cb", 2, 4, is_exception_cb=True)]
    image = jit(slots, subs, stack_depths=[0, 0])
    cb = image.frames[1]
    code = image.code[cb.entry : cb.end].hex()
    pops = "415f" + "415e" + "415d" + "5b" + "415c"
    assert code == NOP5_NOP3 + "4889f4" + "4889d5" + pops + "4889ec" + "4889f8" + "c9c3"
    assert image.frames[0].exception_boundary and cb.exception_cb


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("r0 = 1", "b801000000"),  # emit_mov_imm32: mov eax, imm32
        ("r0 = -1", "48c7c0ffffffff"),  # sign-propagating mov
        ("r1 = 0", "31ff"),  # xor edi, edi
        ("w5 = -1", "41b8ffffffff"),  # mov r8d, imm32 (no sign propagation for ALU32)
        ("r1 = r2", "4889f7"),
        ("w1 = w2", "89f7"),
        ("r1 = (s8)r2", "480fbefe"),
        ("r1 += 1", "4883c701"),
        ("r0 += 0x1000", "480500100000"),  # the short rax form
        ("r1 &= 0x1000", "4881e700100000"),
        ("w1 ^= w2", "31f7"),
        ("r1 *= 3", "486bff03"),
        ("r1 *= r2", "480faffe"),
        ("r1 <<= 1", "48d1e7"),
        ("r1 >>= 7", "48c1ef07"),
        ("r1 s>>= r2", "c4e2caf7ff"),  # BMI2 sarx
        ("r1 = -r1", "48f7df"),
        ("r1 = be16 r1", "66c1cf080fb7ff"),
        ("r1 = le32 r1", "89ff"),
        ("r1 = bswap64 r1", "480fcf"),
        ("r0 = *(u64 *)(r1 + 8)", "488b4708"),
        ("r0 = *(u8 *)(r1 + 0)", "480fb64700"),
        ("r0 = *(s32 *)(r1 + 0x100)", "48638700010000"),
        ("*(u8 *)(r10 - 8) = r1", "40887df8"),
        ("*(u16 *)(r10 - 8) = 0x1234", "66c745f83412"),
        ("*(u64 *)(r10 - 8) = -1", "48c745f8ffffffff"),
        ("lock *(u64 *)(r10 - 8) += r1", "f048017df8"),
        ("r1 = atomic_fetch_add((u64 *)(r10 - 8), r1)", "f0480fc17df8"),
        ("r1 = xchg_64(r10 - 8, r1)", "f048877df8"),
        ("r0 = cmpxchg_64(r10 - 8, r0, r1)", "f0480fb17df8"),
        ("r1 = load_acquire((u64 *)(r2 + 0))", "488b7e00"),
    ],
)
def test_instruction_selection(line: str, expected: str) -> None:
    assert body(line, "exit").removesuffix("c9c3") == expected


def test_division_saves_rax_and_rdx_around_div() -> None:
    # dst r1, src r2: push rax; push rdx; mov rax, rdi; xor edx,edx; div rsi; mov rdi, rax; pop rdx; pop rax
    assert body("r1 /= r2", "exit") == "50" + "52" + "4889f8" + "31d2" + "48f7f6" + "4889c7" + "5a" + "58" + "c9c3"
    # signed modulo by an immediate goes through r11 and cqo/idiv
    code = body("r0 s%= 7", "exit")
    assert listing(bytes.fromhex(code))[:5] == ["push rdx", "mov r11,7", "cqo", "idiv r11", "mov rax,rdx"]


def test_shift_through_cl_without_bmi2() -> None:
    assert listing(bytes.fromhex(body("r1 <<= r2", "exit", bmi2=False))) == [
        "push rcx",
        "mov rcx,rsi",
        "shl rdi,cl",
        "pop rcx",
        "leave",
        "ret",
    ]


def test_fetch_or_is_a_cmpxchg_loop() -> None:
    lines = listing(bytes.fromhex(body("r1 = atomic_fetch_or((u64 *)(r10 - 8), r1)", "exit", depth=8)))
    assert lines[:7] == [
        "mov r10,rax",
        "mov rax,[rbp-8]",
        "mov r11,rax",
        "or r11,rdi",
        "lock cmpxchg [rbp-8],r11",
        lines[5],
        "mov rdi,rax",
    ]
    assert lines[5].startswith("jne ") and lines[7] == "mov rax,r10"


def test_jumps_relax_like_do_jit() -> None:
    # is_imm8_jmp_offset: a forward jump of 123 bytes is rel8, of 124 bytes rel32.
    for fives, twos, size in ((23, 4, 2), (24, 2, 5)):
        skipped = ["r0 = 1"] * fives + ["r0 = 0"] * twos  # mov eax, 1 (5 bytes); xor eax, eax (2)
        image = jit(asm(f"goto +{len(skipped)}", *skipped, "exit"), stack_depths=[0])
        start, end = image.pc_offsets[0], image.pc_ends[0]
        assert start is not None and end is not None and end - start == size


def test_jump_to_next_insn_emits_nothing_and_exits_share_the_epilogue() -> None:
    image = jit(asm("goto +0", "if r1 == 0 goto +1", "exit", "r0 = 1", "exit"), stack_depths=[0])
    assert image.pc_offsets[0] == image.pc_ends[0]
    lines = listing(image.code[image.frames[0].body :])
    assert lines[0] == "test rdi,rdi" and lines[1].startswith("je ")
    assert lines[-1].startswith("jmp ")  # the second exit jumps back to the first epilogue


def test_calls_go_to_subprog_entries_and_stubs() -> None:
    slots = asm("call f", "call 7", "exit", "f:", "r0 = 2", "exit")
    subs = [SubprogSpec("main", 0, 3), SubprogSpec("f", 3, 5)]
    image = jit(slots, subs, stack_depths=[0, 0], resolver=StubResolver())
    decoded = list(Decoder(64, image.code, ip=image.base))
    calls = [i.near_branch_target for i in decoded if i.is_call_near]
    from framework.machine.memory import helper_stub

    assert calls == [image.base + image.frames[1].entry, helper_stub(7)]


def test_pc_map_round_trips() -> None:
    slots = asm("r1 = 0x1122334455667788 ll", "r0 = r1", "if r0 > 3 goto +1", "r0 = 0", "exit")
    image = jit(slots, stack_depths=[0])
    assert image.pc_offsets[1] is None  # ld_imm64's second slot
    for pc, start in enumerate(image.pc_offsets):
        end = image.pc_ends[pc]
        if start is not None and end is not None and end > start:
            assert image.pc_at(start) == pc and image.pc_at(end - 1) == pc
    assert image.pc_at(0) is None  # inside the prologue


def test_unsupported_instructions_are_errors_with_a_pc() -> None:
    with pytest.raises(JitError) as info:
        jit(asm("r0 = 0", "call 1", "exit"), stack_depths=[0])  # no resolver for helper calls
    assert info.value.pc == 1


def test_return_thunk_is_a_jmp_rel32() -> None:
    from framework.jit import RETURN_THUNK

    image = _jit(asm("r0 = 0", "exit"), stack_depths=[0])
    last = list(Decoder(64, image.code, ip=image.base))[-1]
    assert last.near_branch_target == RETURN_THUNK and last.len == 5
