"""The JIT against the running kernel's: same programs, same x86 bytes (call targets aside).

Each program is loaded with BPF_PROG_LOAD (socket filter), its JITed image read
back with BPF_OBJ_GET_INFO_BY_FD, and compared with `jit` of the same
instructions after `framework.fixup.fixup_slots` (the kernel's division guards and
cmpxchg zero extension). rel32 calls and jumps that leave a function (helpers,
the return thunk, other subprogs) differ only in their displacement: they are
compared by length and opcode. Skips where bpf() is not permitted.
"""

from __future__ import annotations

import os

import pytest
from iced_x86 import Decoder
from oracle.btf_build import BtfBuilder

from framework.fixup import fixup_slots
from framework.isa import opcodes as op
from framework.isa.decode import encode
from framework.isa.llvm_asm import assemble
from framework.jit import SubprogSpec, jit
from framework.load.program import FuncInfo, Linkage, Program, Subprog
from framework.machine import StubResolver
from framework.machine.conformance import subprog_bounds
from framework.oracle import bpf_syscall as sys_
from framework.oracle.check import available
from framework.oracle.loader import load
from jit.image_diff import kernel_return_thunk

SOCKET_FILTER = 1
RANDOM = "call 7"  # bpf_get_prandom_u32: an unknown scalar in r0

TWO = [RANDOM, "r6 = r0", RANDOM, "r7 = r0", "r1 = r6", "r2 = r7"]  # two unknown scalars in r1, r2

PROGRAMS: dict[str, list[str]] = {
    "alu": [*TWO, "r1 += r2", "r1 *= 7", "r1 -= 0x12345", "w1 ^= w2", "r0 += 0x1000",
            "r1 |= -3", "r1 &= r2", "r1 = -r1", "w1 *= w2", "r0 = r1", "exit"],
    "shifts": [*TWO, "r2 &= 63", "r1 <<= r2", "r1 s>>= 1", "w1 >>= 5", "r4 = r2", "r1 >>= r4",
               "r4 <<= r1", "r0 = r1", "exit"],
    "divmod": [*TWO, "r1 /= r2", "r1 %= r2", "w1 /= w2", "w1 %= w2", "r1 s/= r2", "r1 s%= r2",
               "w1 s/= w2", "w1 s%= w2", "r1 /= 3", "r1 s%= -1", "r3 = r1", "r3 /= r2", "r0 = r1", "exit"],
    "movs": [RANDOM, "r1 = (s8)r0", "r2 = (s16)r1", "r3 = (s32)r2", "w4 = (s8)w3", "w5 = (s16)w4",
             "r5 = be16 r5", "r5 = be32 r5", "r5 = be64 r5", "r5 = le16 r5", "r5 = le32 r5", "r5 = bswap16 r5",
             "r1 = 0x1122334455667788 ll", "r1 = 0xffffffff ll", "r1 = -5 ll", "r0 = r5", "exit"],
    "stack_and_atomics": [RANDOM, "*(u64 *)(r10 - 8) = r0", "*(u32 *)(r10 - 16) = 7", "*(u16 *)(r10 - 18) = 9",
                          "*(u8 *)(r10 - 19) = 1", "r1 = 3", "lock *(u64 *)(r10 - 8) += r1",
                          "r1 = atomic_fetch_or((u64 *)(r10 - 8), r1)", "r2 = 1",
                          "w2 = atomic_fetch_xor((u32 *)(r10 - 16), w2)",
                          "r1 = xchg_64(r10 - 8, r1)", "r0 = 5", "w0 = cmpxchg32_32(r10 - 16, w0, w1)",
                          "r3 = *(s16 *)(r10 - 18)", "r0 += r3", "r3 = *(u8 *)(r10 - 19)", "r0 += r3", "exit"],
    "callee_saved": [RANDOM, "r6 = r0", RANDOM, "r7 = r0", "r8 = r6", "r9 = r7", "r0 = r6", "r0 += r9", "exit"],
    "jumps": [RANDOM, "r1 = r0", "r0 = 0", "if r1 > 10 goto far", *(["r0 += 1"] * 40), "far:", "if w1 s< -3 goto +1",
              "r0 = 9", "if r1 & 4 goto +2", "if r1 == 0 goto +1", "exit", "r0 = 1", "exit"],
    "loop": ["r0 = 0", "r1 = 0", "loop:", "r0 += r1", "r1 += 1", "if r1 < 30 goto loop", "exit"],
    "subprogs": [RANDOM, "r6 = r0", "r1 = r6", "call f", "r0 += r6", "exit",
                 "f:", "*(u64 *)(r10 - 24) = r1", "r0 = *(u64 *)(r10 - 24)", "r0 *= 3", "exit"],
}  # fmt: skip


def _skip_unless_bpf() -> None:
    if os.geteuid() != 0:
        pytest.skip("loading BPF programs needs root")


def _instructions(code: bytes) -> list[tuple[int, bytes]]:
    """(iced code, bytes) per instruction; rel32 calls and jumps out of the function keep only their opcode."""
    out: list[tuple[int, bytes]] = []
    for ins in Decoder(64, code):
        raw = code[ins.ip : ins.ip + ins.len]
        leaves = ins.len == 5 and raw[0] in (0xE8, 0xE9) and not 0 <= ins.near_branch_target < len(code)
        out.append((ins.code, raw[:1] if leaves else raw))
    return out


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_same_code_as_the_kernel(name: str) -> None:
    _skip_unless_bpf()
    slots = assemble(PROGRAMS[name]).slots
    try:
        loaded = sys_.prog_load(sys_.ProgLoadAttr(SOCKET_FILTER, encode(slots), name=name[:15], log_level=1))
    except OSError as exc:
        pytest.skip(f"bpf() not permitted here: {exc}")
    if loaded.fd is None:
        pytest.fail(f"the kernel refused {name}: {loaded.log[-400:]}")
    with loaded.fd as fd:
        info = sys_.prog_info(fd)
    fixed = fixup_slots(slots, subprog_bounds(slots))
    subs = [SubprogSpec(f"f{i}", s, e) for i, (s, e) in enumerate(fixed.bounds)]
    image = jit(fixed.slots, subs, resolver=StubResolver(), return_thunk=kernel_return_thunk(info.jited_prog_insns))
    assert tuple(f.end - f.entry for f in image.frames) == tuple(info.jited_func_lens)
    kernel, ours = info.jited_prog_insns, image.code
    at = 0
    for length in info.jited_func_lens:
        assert _instructions(ours[at : at + length]) == _instructions(kernel[at : at + length])
        at += length


def _exception_program() -> Program:
    """main throws 7 half the time (no dead code for the verifier to drop); the callback returns cookie + 100."""
    b = BtfBuilder()
    int_ = b.int_("int", 4, signed=True)
    u64 = b.int_("unsigned long long", 8)
    main = b.func("prog", b.func_proto(int_, [("ctx", b.ptr(0))]))
    cb = b.func("cb", b.func_proto(int_, [("cookie", u64)]))
    b.decl_tag("exception_callback:cb", main)
    lines = [RANDOM, "if r0 != 0 goto +2", "r1 = 7", "call 0", "r0 = 0", "exit", "r6 = r1", "r0 = r6", "exit"]
    slots = list(assemble(lines).slots)
    call = slots[3]
    assert call is not None
    slots[3] = call.replace(src=op.PSEUDO_KFUNC_CALL, imm=0)
    return Program(
        name="exc_cb",
        section="tc",
        prog_type="sched_cls",
        slots=tuple(slots),
        subprogs=(Subprog("prog", 0, 6, Linkage.GLOBAL, main), Subprog("cb", 6, 9, Linkage.GLOBAL, cb, True)),
        source="<exc_cb>",
        sha256="",
        kfuncs=("bpf_throw",),
        btf=b.encode(),
        func_info=(FuncInfo(0, main), FuncInfo(6, cb)),
    )


def test_exception_boundary_and_callback_as_the_kernel_jits_them() -> None:
    _skip_unless_bpf()
    if (reason := available()) is not None:
        pytest.skip(reason)
    prog = _exception_program()
    with load(prog) as loaded:
        if loaded.prog is None:
            pytest.fail(f"the kernel refused the program: {loaded.log[-400:]}")
        info = sys_.prog_info(loaded.prog)
    subs = [SubprogSpec(s.name, s.start, s.end, s.is_exception_cb) for s in prog.subprogs]
    image = jit(prog.slots, subs, resolver=StubResolver(), return_thunk=kernel_return_thunk(info.jited_prog_insns))
    assert image.frames[0].exception_boundary and image.frames[1].exception_cb
    assert tuple(f.end - f.entry for f in image.frames) == tuple(info.jited_func_lens)
    at = 0
    for length in info.jited_func_lens:
        assert _instructions(image.code[at : at + length]) == _instructions(info.jited_prog_insns[at : at + length])
        at += length
