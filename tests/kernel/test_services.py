"""Kernel services as programs call them: iterators, bpf_loop, maps, sockets, ring buffers, time."""

from __future__ import annotations

import struct

from framework.kernel.objects import CURRENT_PID, MapEntry, RunInput, SocketSpec
from framework.load.program import MapDef
from framework.run.result import run_program

from .prog import program

ITER = ("bpf_iter_num_new", "bpf_iter_num_next", "bpf_iter_num_destroy")


def test_iter_num_counts_from_start_to_end() -> None:
    text = """
r1 = r10
r1 += -8
r2 = 3
r3 = 7
call bpf_iter_num_new
r6 = 0
loop:
r1 = r10
r1 += -8
call bpf_iter_num_next
if r0 == 0 goto done
r1 = *(u32 *)(r0 + 0)
r6 += r1
goto loop
done:
r1 = r10
r1 += -8
call bpf_iter_num_destroy
r0 = r6
exit
"""
    result = run_program(program(text, kfuncs=ITER))
    assert result.fault is None and result.r0 == 3 + 4 + 5 + 6
    assert result.leaked == () and result.service_calls["bpf_iter_num_next"] == 5


def test_iter_num_new_refuses_a_backwards_range_but_still_needs_destroy() -> None:
    text = "r1 = r10\nr1 += -8\nr2 = 5\nr3 = 1\ncall bpf_iter_num_new\nexit"
    result = run_program(program(text, kfuncs=ITER))
    assert result.r0 == (-22) & (2**64 - 1)
    assert [r.kind for r in result.leaked] == ["iter_num"]


def test_bpf_loop_calls_back_until_told_to_stop() -> None:
    text = """
r1 = 10
r2 = cb ll
r3 = 0
r4 = 0
call 181
exit
cb:
r0 = 0
if r1 != 3 goto out
r0 = 1
out:
exit
"""
    result = run_program(program(text, subprogs=("cb",)))
    assert result.fault is None and result.r0 == 4  # stopped after i = 3: i + 1 iterations
    assert result.bpf_insns == 6 + 3 * 3 + 4  # the callback's instructions count too


def test_array_map_lookup_and_update() -> None:
    counts = MapDef("counts", "array", 4, 8, 4)
    text = """
r1 = 2
*(u32 *)(r10 - 4) = r1
r1 = counts ll
r2 = r10
r2 += -4
call 1
if r0 == 0 goto miss
r1 = *(u64 *)(r0 + 0)
r1 += 1
*(u64 *)(r0 + 0) = r1
r0 = r1
exit
miss:
r0 = -1
exit
"""
    prog = program(text, maps=(counts,))
    result = run_program(prog, RunInput(maps=(MapEntry("counts", struct.pack("<I", 2), struct.pack("<Q", 41)),)))
    assert result.fault is None and result.r0 == 42
    out_of_range = text.replace("r1 = 2\n", "r1 = 4\n", 1)
    assert run_program(program(out_of_range, maps=(counts,))).r0 == 2**64 - 1


def test_hash_map_update_then_lookup() -> None:
    table = MapDef("table", "hash", 4, 4, 2)
    text = """
r1 = 7
*(u32 *)(r10 - 4) = r1
r1 = 99
*(u32 *)(r10 - 8) = r1
r1 = table ll
r2 = r10
r2 += -4
r3 = r10
r3 += -8
r4 = 1
call 2
r6 = r0
r1 = table ll
r2 = r10
r2 += -4
call 1
r0 = *(u32 *)(r0 + 0)
r0 <<= 8
r0 |= r6
exit
"""
    result = run_program(program(text, maps=(table,)))
    assert result.fault is None and result.r0 == 99 << 8


SK_LOOKUP = """
r6 = r1
r1 = 0
*(u64 *)(r10 - 16) = r1
*(u32 *)(r10 - 8) = r1
r1 = 0x0200000a
*(u32 *)(r10 - 12) = r1
r1 = 0x5000
*(u16 *)(r10 - 6) = r1
r1 = r6
r2 = r10
r2 += -16
r3 = 12
r4 = -1
r5 = 0
call 84
if r0 == 0 goto out
r7 = *(u32 *)(r0 + 72)
r1 = r0
call 86
r0 = r7
out:
exit
"""


def test_sk_lookup_finds_a_declared_listener() -> None:
    prog = program(SK_LOOKUP)
    assert run_program(prog).r0 == 0  # a fresh netns has no sockets
    listener = SocketSpec(local="10.0.0.2:80", state="listen")
    result = run_program(prog, RunInput(sockets=(listener,)))
    assert result.fault is None and result.r0 == 10  # TCP_LISTEN
    assert result.leaked == () and result.service_calls == {"bpf_sk_lookup_tcp": 1, "bpf_sk_release": 1}
    other_port = SocketSpec(local="10.0.0.2:81", state="listen")
    assert run_program(prog, RunInput(sockets=(other_port,))).r0 == 0


def test_ringbuf_reserve_fails_when_full() -> None:
    rb = MapDef("rb", "ringbuf", 0, 0, 64)
    text = """
r1 = rb ll
r2 = 40
r3 = 0
call 131
r6 = r0
r1 = rb ll
r2 = 40
r3 = 0
call 131
r7 = r0
r1 = r6
r2 = 0
call 133
r0 = r7
exit
"""
    result = run_program(program(text, maps=(rb,)))
    assert result.fault is None and result.r0 == 0  # 48 + 48 bytes do not fit in 64
    assert result.leaked == ()


def test_time_and_current_task_are_deterministic() -> None:
    text = "call 5\nr6 = r0\ncall 5\nr0 -= r6\nr0 <<= 32\ncall 14\nexit"
    first, second = run_program(program(text)), run_program(program(text))
    assert first.r0 == second.r0 == (CURRENT_PID << 32) | CURRENT_PID
    assert run_program(program("call 5\nr6 = r0\ncall 5\nr0 -= r6\nexit")).r0 == 1000


def test_unemulated_helper_faults_with_its_name() -> None:
    result = run_program(program("call 27\nexit"))
    assert result.fault == "pc 0: helper bpf_get_stackid (id 27) is not emulated"


def test_probe_read_kernel_zeroes_on_a_bad_source() -> None:
    text = """
r1 = -1
*(u64 *)(r10 - 8) = r1
r1 = r10
r1 += -8
r2 = 8
r3 = 16
call 113
r1 = *(u64 *)(r10 - 8)
r0 <<= 32
r0 |= r1
exit
"""
    result = run_program(program(text))
    assert result.fault is None and result.r0 == ((-14) & 0xFFFFFFFF) << 32


def test_kptr_xchg_moves_the_reference_into_the_map_and_back() -> None:
    stash = MapDef("stash", "array", 4, 8, 1)
    text = """
r1 = 2
call bpf_task_from_pid
r6 = r0
r1 = 0
*(u32 *)(r10 - 4) = r1
r1 = stash ll
r2 = r10
r2 += -4
call 1
r7 = r0
r1 = r7
r2 = r6
call 194
r1 = r7
r2 = 0
call 194
r8 = r0
r1 = r8
call bpf_task_release
r0 = r8
r0 -= r6
exit
"""
    kfuncs = ("bpf_task_from_pid", "bpf_task_release")
    result = run_program(program(text, kfuncs=kfuncs, maps=(stash,)))
    assert result.fault is None and result.r0 == 0  # the same task came back
    assert result.leaked == () and result.double_released == ()
    held = run_program(program(text.replace("call bpf_task_release\n", "r1 = 0\n"), kfuncs=kfuncs, maps=(stash,)))
    assert [(r.kind, r.acquired_by) for r in held.leaked] == [("task", "bpf_kptr_xchg")]


def test_a_throw_inside_a_bpf_loop_callback_unwinds_everything_and_counts_it() -> None:
    text = """
r6 = 1
r1 = 10
r2 = cb ll
r3 = 0
r4 = 0
call 181
r0 = 0
exit
cb:
if r1 != 2 goto out
r1 = 77
call bpf_throw
out:
r0 = 0
exit
"""
    result = run_program(program(text, kfuncs=("bpf_throw",), subprogs=("cb",)))
    assert result.fault is None and result.threw and result.retval == 77
    # main up to the call: 6; callback i=0,1: 3 each; i=2: 3 up to the throw
    assert result.bpf_insns == 6 + 3 + 3 + 3


def test_global_data_by_address_and_rodata_is_read_only() -> None:
    data = MapDef("obj.data", "array", 4, 8, 1, section=".data", initial=bytes(range(8)))
    rodata = MapDef("obj.rodata", "array", 4, 8, 1, flags=1 << 7, section=".rodata", initial=bytes(8))
    maps = (data, rodata)
    # ld_imm64 src BPF_PSEUDO_MAP_IDX_VALUE: imm = map index, second imm = offset into the value
    read = program("ld_pseudo r1, 6, 0, 4\nr0 = *(u32 *)(r1 + 0)\nexit", maps=maps)
    assert run_program(read).r0 == int.from_bytes(bytes(range(4, 8)), "little")
    write = program("ld_pseudo r1, 6, 1, 0\nr2 = 1\n*(u8 *)(r1 + 0) = r2\nexit", maps=maps)
    result = run_program(write)
    assert result.fault is not None and "read-only map obj.rodata values" in result.fault
