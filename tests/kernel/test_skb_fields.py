"""Every `__sk_buff` field a tc program may read or write, through every kind of context pointer.

Each field is read at every offset and size Linux allows (framework.platform.skb's table),
through the context pointer as r1, a copy of it, a copy spilled across a helper call and
filled, and a copy offset by a register the verifier knows is zero; the values are folded
into r0. Both engines must give the same r0 (the JIT runs the fixup stage's conversion to
`struct sk_buff`, the interpreter the `__sk_buff` model), and, where bpf() is permitted, the
live kernel must return the same for every field that is not an address. Writes go through
the same shapes and are read back.
"""

from __future__ import annotations

import struct

import pytest

from framework.kernel.objects import RunInput
from framework.oracle.check import available
from framework.platform.contexts import skb_access
from framework.platform.skb import BYTES, EXACT, SK_BUFF_SIZE, SKB_FIELDS, SkbField, skb_field
from framework.run.result import run_program

from .prog import program

IPV4_TCP = bytes.fromhex(
    "00000000000200000000000108004500002800004000400626ce0a0000010a00000204d2005000000001000000005002ffff96bd0000"
)
ADDRESSES = {"data", "data_end", "data_meta", "sk"}  # kernel addresses: the engines agree, the kernel's differ


def _ctx_in() -> bytes:
    """Every field a test run's ctx_in may set, each with a value of its own (convert___skb_to_skb)."""
    ctx = bytearray(SK_BUFF_SIZE)
    for name, value in (("mark", 0x11223344), ("priority", 0x55667788), ("ingress_ifindex", 3)):
        struct.pack_into("<I", ctx, skb_field(name).off, value)
    ctx[48:68] = bytes(range(0x21, 0x21 + 20))
    struct.pack_into("<Q", ctx, skb_field("tstamp").off, 0x0102030405060708)
    struct.pack_into("<I", ctx, skb_field("wire_len").off, 1000)
    struct.pack_into("<I", ctx, skb_field("gso_segs").off, 7)
    struct.pack_into("<I", ctx, skb_field("gso_size").off, 1400)
    struct.pack_into("<Q", ctx, skb_field("hwtstamp").off, 0x1112131415161718)
    return bytes(ctx)


INPUTS = (RunInput("ipv4_tcp", IPV4_TCP), RunInput("ipv4_tcp_ctx_in", IPV4_TCP, ctx=_ctx_in()))
_TYPE = {1: "u8", 2: "u16", 4: "u32", 8: "u64"}


def accesses(f: SkbField, prog_type: str = "sched_cls") -> list[tuple[int, int]]:
    """Every (offset, size) Linux lets a `prog_type` program read of field `f`."""
    sizes = (1, 2, 4, 8) if f.access == BYTES else (1, 2, 4)
    tried = [(f.off + d, size) for size in sizes for d in range(0, f.size, size) if f.off + d + size <= f.end]
    if f.access == EXACT:
        tried = [(f.off, f.size)]
    return [(off, size) for off, size in tried if skb_access(prog_type, off, size, False) is f]


# how the context pointer reaches the loads: each leaves it in r6
SHAPES: dict[str, list[str]] = {
    "r1": ["r6 = r1"],
    "copied": ["r7 = r1", "r6 = r7"],
    "spilled": ["*(u64 *)(r10 - 8) = r1", "call 7", "r6 = *(u64 *)(r10 - 8)"],  # get_prandom_u32 clobbers r1-r5
    "adjusted": ["r7 = 0", "r6 = r1", "r6 += r7"],  # clang emits this on its own
}


def reader(f: SkbField, shape: str, prog_type: str = "sched_cls") -> str:
    """A program folding every allowed read of `f` through `shape`'s pointer into r0 (FNV-style)."""
    lines = [*SHAPES[shape], "r0 = 0", "r8 = 0x100000001b3 ll"]
    for off, size in accesses(f, prog_type):
        lines += [f"r2 = *({_TYPE[size]} *)(r6 + {off})", "r0 ^= r2", "r0 *= r8"]
    if f.name not in ADDRESSES:
        lines += ["r3 = r0", "r3 >>= 32", "r0 ^= r3"]  # the high half reaches the test run's 32-bit retval
    return "\n".join([*lines, "exit"])


def _engines(text: str, inp: RunInput) -> tuple[int, int]:
    prog = program(text)
    want, got = run_program(prog, inp, "interp"), run_program(prog, inp, "jit")
    assert want.fault is None and got.fault is None, (want.fault, got.fault)
    return want.r0, got.r0


CASES = [(f.name, shape) for f in SKB_FIELDS for shape in SHAPES]


@pytest.mark.parametrize(("name", "shape"), CASES, ids=[f"{n}-{s}" for n, s in CASES])
def test_both_engines_read_every_field_alike(name: str, shape: str) -> None:
    text = reader(skb_field(name), shape)
    for inp in INPUTS:
        want, got = _engines(text, inp)
        assert got == want, f"{name} through {shape} on {inp.name}: jit {got:#x}, interpreter {want:#x}"


def _kernel_retvals(text: str) -> list[int]:
    from framework.oracle.record import record

    reason = available()
    if reason is not None:
        pytest.skip(reason)
    rec = record(program(text), INPUTS, batches=1, repeat=1)
    assert rec.verdict == "accepted", rec.message
    return [run.retval for run in rec.runs]


KERNEL_CASES = [f.name for f in SKB_FIELDS if f.name not in ADDRESSES]


@pytest.mark.kernel
@pytest.mark.parametrize("name", KERNEL_CASES)
def test_every_field_reads_what_the_live_kernel_reads(name: str) -> None:
    text = reader(skb_field(name), "spilled")
    ours = [run_program(program(text), inp, "jit").retval for inp in INPUTS]
    assert ours == _kernel_retvals(text), f"__sk_buff.{name}: ours, then the kernel's"


def test_the_test_run_socket_is_there_and_addressed_from_the_packet() -> None:
    # bpf_prog_test_run_skb gives the skb a dummy socket: family and addresses from the IP header
    text = "r1 = *(u64 *)(r1 + 168)\nr0 = 99\nif r1 == 0 goto out\nr0 = *(u32 *)(r1 + 4)\nr2 = *(u32 *)(r1 + 24)\n"
    text += "r0 <<= 32\nr0 |= r2\nout:\nexit"
    for engine in ("interp", "jit"):
        got = run_program(program(text), INPUTS[0], engine)
        assert got.r0 == (2 << 32) | int.from_bytes(IPV4_TCP[26:30], "little"), engine


# (field, what the program stores, how: a register (STX) or an immediate (ST))
WRITES: list[tuple[str, int, str]] = [
    ("mark", 0x0BADCAFE, "stx"),
    ("mark", 77, "st"),
    ("priority", 0x12345678, "stx"),
    ("queue_mapping", 5, "stx"),
    ("queue_mapping", 70000, "stx"),  # NO_QUEUE_MAPPING and above: not stored
    ("queue_mapping", 0xFFFF, "st"),
    ("queue_mapping", 9, "st"),
    ("tc_index", 0x12345, "stx"),  # a u16 in struct sk_buff
    ("tc_classid", 0xABCDE, "stx"),
    ("cb", 0x0102030405060708, "stx"),
    ("tstamp", 0x1122334455667788, "stx"),
]


def writer(name: str, value: int, how: str, shape: str) -> str:
    f = skb_field(name)
    size = 8 if f.size == 8 or name == "cb" else 4
    ty = _TYPE[size]
    lines = [*SHAPES[shape]]
    lines += [f"r2 = {value} ll", f"*({ty} *)(r6 + {f.off}) = r2"] if how == "stx" else []
    lines += [f"*({ty} *)(r6 + {f.off}) = {value}"] if how == "st" else []
    lines += [f"r0 = *({ty} *)(r1 + {f.off})" if shape != "spilled" else f"r0 = *({ty} *)(r6 + {f.off})"]
    lines += ["r3 = r0", "r3 >>= 32", "r0 ^= r3", "exit"]
    return "\n".join(lines)


WRITE_CASES = [(n, v, h, s) for n, v, h in WRITES for s in SHAPES]


@pytest.mark.parametrize(("name", "value", "how", "shape"), WRITE_CASES, ids=lambda x: str(x))
def test_both_engines_write_every_writable_field_alike(name: str, value: int, how: str, shape: str) -> None:
    want, got = _engines(writer(name, value, how, shape), INPUTS[1])
    assert got == want


@pytest.mark.kernel
@pytest.mark.parametrize(("name", "value", "how"), WRITES, ids=lambda x: str(x))
def test_writes_read_back_what_the_live_kernel_reads_back(name: str, value: int, how: str) -> None:
    text = writer(name, value, how, "adjusted")
    ours = [run_program(program(text), inp, "interp").retval for inp in INPUTS]
    assert ours == _kernel_retvals(text)


def test_the_reads_tried_are_every_read_linux_allows() -> None:
    from framework.platform.skb import valid_access

    tried = {(off, size) for f in SKB_FIELDS for off, size in accesses(f)}
    allowed = {(off, size) for off in range(SK_BUFF_SIZE) for size in (1, 2, 4, 8) if valid_access(off, size, False)}
    assert tried == allowed and len(tried) == 7 * 18 + 7 + (20 + 10 + 5 + 2)
