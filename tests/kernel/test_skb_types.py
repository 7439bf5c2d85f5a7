"""The test-run skb of socket filters and cgroup skb programs, held to the live kernel.

bpf_prog_test_run_skb builds these as it builds tc's but for is_l2 (the data starts past the
Ethernet header, `len` is the packet less ETH_HLEN, data_out gets a zeroed Ethernet header back)
and is_direct_pkt_access (cgroup skb only: a socket filter's data_end stays zero). Every field
each type may read is read as test_skb_fields reads tc's, through every shape of context pointer,
on both engines; where bpf() is permitted the live kernel must give the same retval, data_out and
ctx_out. A cgroup skb program may only return 0 or 1, so what it folds goes out through cb[]
(ctx_out), which needs a ctx: its inputs always have one (a zeroed ctx_in reads as none would:
cgroup skb cannot read wire_len, the one field a zeroed ctx changes).
"""

from __future__ import annotations

import struct

import pytest

from framework.kernel.objects import RunInput
from framework.oracle.check import available
from framework.platform.contexts import skb_access
from framework.platform.skb import SK_BUFF_SIZE, SKB_FIELDS, SOCK_FIELDS, SkbField, skb_field
from framework.run.result import RunResult, run_program

from .prog import program
from .test_skb_fields import ADDRESSES, INPUTS, IPV4_TCP, SHAPES, _ctx_in, accesses, reader

TYPES = ("socket_filter", "cgroup_skb")
FIELDS = {t: [f for f in (*SKB_FIELDS, *SOCK_FIELDS) if accesses(f, t)] for t in TYPES}
CTX_INPUTS = (RunInput("ipv4_tcp_zero_ctx", IPV4_TCP, ctx=bytes(SK_BUFF_SIZE)), INPUTS[1])
TYPE_INPUTS = {"socket_filter": INPUTS, "cgroup_skb": CTX_INPUTS}
CB_OUT = "*(u64 *)(r6 + 48) = r0\nr0 = 1\nexit"  # cgroup skb: the fold into cb[0..1], return 1 (allowed)


def _run(text: str, prog_type: str, inp: RunInput, engine: str) -> RunResult:
    got = run_program(program(text, prog_type=prog_type), inp, engine)
    assert got.fault is None and not got.unsupported, got.fault
    return got


def _kernel_outputs(text: str, prog_type: str, inputs: tuple[RunInput, ...]) -> list[tuple[int, bytes, bytes]]:
    """(retval, data_out, ctx_out) of each input, as BPF_PROG_TEST_RUN gives them."""
    from framework.oracle import bpf_syscall as sys_
    from framework.oracle.loader import load

    reason = available()
    if reason is not None:
        pytest.skip(reason)
    out = []
    for inp in inputs:
        with load(program(text, prog_type=prog_type)) as loaded:
            assert loaded.prog is not None, loaded.log[-400:]
            size = SK_BUFF_SIZE if inp.ctx is not None else 0
            run = sys_.prog_test_run(loaded.prog, inp.packet or b"", ctx_in=inp.ctx or b"", ctx_out_size=size)
            out.append((run.retval, run.data_out, run.ctx_out))
    return out


def _ours(text: str, prog_type: str, inputs: tuple[RunInput, ...], engine: str) -> list[tuple[int, bytes, bytes]]:
    out = []
    for inp in inputs:
        got = _run(text, prog_type, inp, engine)
        out.append((got.retval, got.data_out or b"", got.ctx_out or b""))
    return out


CASES = [(t, f.name, shape) for t in TYPES for f in FIELDS[t] for shape in SHAPES]


@pytest.mark.parametrize(("prog_type", "name", "shape"), CASES, ids=[f"{t}-{n}-{s}" for t, n, s in CASES])
def test_both_engines_read_every_field_alike(prog_type: str, name: str, shape: str) -> None:
    text = reader(skb_field(name), shape, prog_type)
    for inp in (*INPUTS, *CTX_INPUTS):
        want, got = (_run(text, prog_type, inp, e) for e in ("interp", "jit"))
        assert got.r0 == want.r0, f"{name} through {shape} on {inp.name}: jit {got.r0:#x}, interpreter {want.r0:#x}"
        assert (got.data_out, got.ctx_out) == (want.data_out, want.ctx_out)


def _kernel_text(f: SkbField, prog_type: str) -> str:
    text = reader(f, "spilled", prog_type)
    return text.removesuffix("exit") + CB_OUT if prog_type == "cgroup_skb" else text


KERNEL_CASES = [(t, f.name) for t in TYPES for f in FIELDS[t] if f.name not in ADDRESSES]


@pytest.mark.kernel
@pytest.mark.parametrize(("prog_type", "name"), KERNEL_CASES, ids=[f"{t}-{n}" for t, n in KERNEL_CASES])
def test_every_field_reads_what_the_live_kernel_reads(prog_type: str, name: str) -> None:
    text, inputs = _kernel_text(skb_field(name), prog_type), TYPE_INPUTS[prog_type]
    theirs = _kernel_outputs(text, prog_type, inputs)
    for engine in ("interp", "jit"):
        assert _ours(text, prog_type, inputs, engine) == theirs, f"{prog_type} __sk_buff.{name} ({engine})"


def test_the_reads_tried_are_every_read_each_type_allows() -> None:
    for t in TYPES:
        tried = {(off, size) for f in FIELDS[t] for off, size in accesses(f, t)}
        rule = {(o, s) for o in range(SK_BUFF_SIZE) for s in (1, 2, 4, 8) if skb_access(t, o, s, False)}
        assert tried == rule, t
    names = {t: {f.name for f in FIELDS[t]} for t in TYPES}
    # sk_filter_is_valid_access, cg_skb_is_valid_access: what each refuses of tc's fields, and the socket's
    assert {f.name for f in SKB_FIELDS} - names["socket_filter"] == {
        "tc_classid", "data", "data_end", "data_meta", "tstamp", "wire_len", "hwtstamp", "tstamp_type"
    }  # fmt: skip
    assert {f.name for f in SKB_FIELDS} - names["cgroup_skb"] == {"tc_classid", "data_meta", "wire_len", "tstamp_type"}
    assert {f.name for f in SOCK_FIELDS} <= names["cgroup_skb"] and not {f.name for f in SOCK_FIELDS} & names[
        "socket_filter"
    ]


def test_the_skb_starts_past_the_ethernet_header() -> None:
    # bpf_prog_test_run_skb without is_l2: skb->len is the packet less ETH_HLEN; data_out pushes a
    # zeroed Ethernet header back; cgroup skb's data pointers span the IP packet, a socket filter's
    # data_end (not readable by it, but in the skb) stays zero
    text = "r0 = *(u32 *)(r1 + 0)\nexit"
    for t in TYPES:
        for engine in ("interp", "jit"):
            got = _run(text, t, INPUTS[0], engine)
            assert got.retval == len(IPV4_TCP) - 14 and got.data_out == bytes(14) + IPV4_TCP[14:], (t, engine)
    span = "r2 = *(u32 *)(r1 + 76)\nr3 = *(u32 *)(r1 + 80)\nr0 = r3\nr0 -= r2\nexit"
    assert _run(span, "cgroup_skb", INPUTS[0], "jit").retval == len(IPV4_TCP) - 14
    assert _run(span, "sched_cls", INPUTS[0], "jit").data_out == IPV4_TCP  # tc: the frame as it came


# direct packet access (cgroup skb may read it, not write it): the IP header's protocol and TTL
# into cb[0] when `need` bytes are there, else 0 returned
def _direct(need: int) -> str:
    return "\n".join([
        "r6 = r1", "r2 = *(u32 *)(r6 + 76)", "r3 = *(u32 *)(r6 + 80)", "r4 = r2", f"r4 += {need}",
        "r0 = 0", "if r4 > r3 goto out", "r0 = *(u8 *)(r2 + 9)", "r5 = *(u8 *)(r2 + 8)", "r0 <<= 8", "r0 |= r5",
        "r5 = *(u8 *)(r2 + 19)", "r0 <<= 8", "r0 |= r5", "*(u32 *)(r6 + 48) = r0", "r0 = 1", "out:", "exit",
    ])  # fmt: skip


@pytest.mark.parametrize("need", [20, 40, 41])
def test_cgroup_skb_reads_the_packet_directly(need: int) -> None:
    from framework.plan import baseline

    assert baseline(program(_direct(need), prog_type="cgroup_skb")).record is not None
    want = (6 << 16) | (64 << 8) | 2 if need <= 40 else None  # IPPROTO_TCP, ttl 64, daddr's last byte
    for engine in ("interp", "jit"):
        got = _run(_direct(need), "cgroup_skb", CTX_INPUTS[0], engine)
        assert got.retval == (want is not None), engine
        if want is not None:
            assert got.ctx_out is not None and struct.unpack_from("<I", got.ctx_out, 48)[0] == want


@pytest.mark.kernel
@pytest.mark.parametrize("need", [20, 40, 41])
def test_cgroup_skb_reads_the_packet_as_the_live_kernel_does(need: int) -> None:
    theirs = _kernel_outputs(_direct(need), "cgroup_skb", CTX_INPUTS)
    for engine in ("interp", "jit"):
        assert _ours(_direct(need), "cgroup_skb", CTX_INPUTS, engine) == theirs, engine


# (type, field, value, how): the writes each type may make, read back (cgroup skb: through ctx_out)
WRITES = [
    ("socket_filter", "cb", 0x0102030405060708, "stx"),
    ("socket_filter", "cb", 77, "st"),
    ("cgroup_skb", "mark", 0x0BADCAFE, "stx"),
    ("cgroup_skb", "mark", 77, "st"),
    ("cgroup_skb", "priority", 0x12345678, "stx"),
    ("cgroup_skb", "cb", 0x0102030405060708, "stx"),
    ("cgroup_skb", "tstamp", 0x1122334455667788, "stx"),
]


def _writer(prog_type: str, name: str, value: int, how: str) -> str:
    f = skb_field(name)
    ty = "u64" if f.size == 8 or name == "cb" else "u32"
    lines = ["r6 = r1"]
    lines += [f"r2 = {value} ll", f"*({ty} *)(r6 + {f.off}) = r2"] if how == "stx" else []
    lines += [f"*({ty} *)(r6 + {f.off}) = {value}"] if how == "st" else []
    lines += [f"r0 = *({ty} *)(r6 + {f.off})", "r3 = r0", "r3 >>= 32", "r0 ^= r3"]
    return "\n".join([*lines, "r0 &= 1" if prog_type == "cgroup_skb" else "", "exit"])


@pytest.mark.kernel
@pytest.mark.parametrize(("prog_type", "name", "value", "how"), WRITES, ids=lambda x: str(x))
def test_writes_come_back_as_the_live_kernel_hands_them_back(prog_type: str, name: str, value: int, how: str) -> None:
    text = _writer(prog_type, name, value, how)
    f = skb_field(name)
    assert skb_access(prog_type, f.off, 8 if f.size == 8 or name == "cb" else 4, True) is f
    theirs = _kernel_outputs(text, prog_type, TYPE_INPUTS[prog_type])
    for engine in ("interp", "jit"):
        assert _ours(text, prog_type, TYPE_INPUTS[prog_type], engine) == theirs, engine


def test_wire_len_is_checked_against_the_skbs_own_length() -> None:
    # convert___skb_to_skb runs after tc's __skb_push: wire_len must cover skb->len, which for the
    # non-L2 types is the packet less its Ethernet header
    from framework.errors import InputError

    ctx = bytearray(SK_BUFF_SIZE)
    struct.pack_into("<I", ctx, skb_field("wire_len").off, len(IPV4_TCP) - 14)
    inp = RunInput("short_wire", IPV4_TCP, ctx=bytes(ctx))
    assert _run("r0 = 0\nexit", "socket_filter", inp, "interp").ctx_out == bytes(ctx[:40]) + b"\x01" + bytes(ctx[41:])
    with pytest.raises(InputError, match="wire_len"):
        run_program(program("r0 = 0\nexit"), inp, "interp")


@pytest.mark.kernel
def test_wire_len_is_refused_where_the_live_kernel_refuses_it() -> None:
    from framework.oracle import bpf_syscall as sys_
    from framework.oracle.loader import load

    if (reason := available()) is not None:
        pytest.skip(reason)
    ctx = bytearray(SK_BUFF_SIZE)
    struct.pack_into("<I", ctx, skb_field("wire_len").off, len(IPV4_TCP) - 14)
    for prog_type, errno in (("socket_filter", 0), ("sched_cls", 22)):
        with load(program("r0 = 0\nexit", prog_type=prog_type)) as loaded:
            assert loaded.prog is not None
            try:
                sys_.prog_test_run(loaded.prog, IPV4_TCP, ctx_in=bytes(ctx))
                got = 0
            except OSError as exc:
                got = exc.errno or -1
        assert got == errno, prog_type


# helpers on the non-L2 skb: offsets from skb->data (the IP header), the mac header before it;
# LD_ABS also from the headers (SKF_LL_OFF, SKF_NET_OFF: bpf_internal_load_pointer_neg_helper)
SKF_LL_OFF, SKF_NET_OFF = -0x200000, -0x100000
HELPERS = {
    "ld_abs": "r6 = r1\nr0 = *(u8 *)skb[9]\nr7 = r0\nr0 = *(u16 *)skb[2]\nr0 <<= 8\nr0 |= r7\nexit",
    **{
        f"ld_abs_{name}": f"r6 = r1\nr0 = *({ty} *)skb[{off}]\nr0 += 1\nexit"
        for name, off, ty in (
            ("ll_ethertype", SKF_LL_OFF + 12, "u16"), ("ll_dest", SKF_LL_OFF, "u32"),
            ("below_ll", SKF_LL_OFF - 2, "u16"),
            ("net_protocol", SKF_NET_OFF + 9, "u8"), ("net_last", SKF_NET_OFF + 39, "u8"),
            ("net_past_end", SKF_NET_OFF + 40, "u8"), ("ll_last", SKF_LL_OFF + 53, "u8"),
            ("ll_past_end", SKF_LL_OFF + 54, "u8"), ("minus_one", -1, "u8"), ("past_end", 40, "u8"),
        )
    },
    "load_bytes": "r2 = 8\nr3 = r10\nr3 += -8\nr4 = 4\ncall 26\nr1 = *(u32 *)(r10 - 8)\nr0 <<= 32\nr0 |= r1\nexit",
    "load_bytes_past_end": "r2 = 38\nr3 = r10\nr3 += -8\nr4 = 4\ncall 26\nr1 = *(u32 *)(r10 - 8)\nr0 ^= r1\nexit",
    **{
        f"load_bytes_relative_{where}_{off}": f"r2 = {off}\nr3 = r10\nr3 += -8\nr4 = 4\nr5 = {start}\n"
        "call 68\nr1 = *(u32 *)(r10 - 8)\nr0 <<= 32\nr0 |= r1\nr1 = r0\nr1 >>= 32\nr0 ^= r1\nexit"
        for where, start in (("mac", 0), ("net", 1))
        for off in (0, 12, 36, 37, 50, 51)
    },
}  # fmt: skip
HELPER_TYPES = ("socket_filter", "sched_cls")  # LD_ABS's types (may_access_skb); tc for the L2 offsets


@pytest.mark.parametrize("name", sorted(HELPERS))
def test_packet_helpers_alike_on_both_engines(name: str) -> None:
    for prog_type in (*TYPES, "sched_cls") if not name.startswith("ld_abs") else HELPER_TYPES:
        text = HELPERS[name].replace("exit", "r0 &= 1\nexit") if prog_type == "cgroup_skb" else HELPERS[name]
        want, got = (_run(text, prog_type, INPUTS[0], e) for e in ("interp", "jit"))
        assert got.r0 == want.r0, prog_type


HELPER_CASES = [(t, n) for t in HELPER_TYPES for n in sorted(HELPERS)]


@pytest.mark.kernel
@pytest.mark.parametrize(("prog_type", "name"), HELPER_CASES, ids=[f"{t}-{n}" for t, n in HELPER_CASES])
def test_packet_helpers_read_what_the_live_kernel_reads(prog_type: str, name: str) -> None:
    theirs = _kernel_outputs(HELPERS[name], prog_type, INPUTS)
    for engine in ("interp", "jit"):
        assert _ours(HELPERS[name], prog_type, INPUTS, engine) == theirs, engine


def test_the_ctx_given_comes_back_with_the_skbs_fields() -> None:
    # convert_skb_to___skb: mark, priority, ingress_ifindex, ifindex, tstamp, cb, wire_len,
    # gso_segs and hwtstamp from the skb; what else the ctx held stays (gso_size)
    got = _run("r0 = 0\nexit", "socket_filter", INPUTS[1], "jit")
    want = bytearray(_ctx_in())
    want[40] = 1  # ifindex: lo
    assert got.ctx_out == bytes(want) and _run("r0 = 0\nexit", "socket_filter", INPUTS[0], "jit").ctx_out is None


SAMPLE_INPUTS = (
    INPUTS[0],
    RunInput("zeros", bytes(64)),
    RunInput("ipv4_udp", IPV4_TCP[:23] + b"\x11" + IPV4_TCP[24:]),
    RunInput("ipv4_header_only", IPV4_TCP[:34]),
)


@pytest.mark.kernel
def test_a_linux_sample_socket_filter_returns_what_the_live_kernel_returns() -> None:
    # samples/bpf/sockex2_kern.c: LD_ABS on the packet past its Ethernet header, a hash map, the length
    from pathlib import Path

    from framework.load.elf import load_object
    from framework.oracle.record import record

    if (reason := available()) is not None:
        pytest.skip(reason)
    (prog,) = load_object(Path(__file__).resolve().parents[1] / "fixtures" / "linux_samples" / "sockex2_kern.o")
    theirs = [run.retval for run in record(prog, SAMPLE_INPUTS, batches=1, repeat=1).runs]
    for engine in ("interp", "jit"):
        assert [run_program(prog, inp, engine).retval for inp in SAMPLE_INPUTS] == theirs, engine


@pytest.mark.parametrize("prog_type", ["sched_cls", *TYPES])
def test_an_ip_frame_too_short_for_its_header_is_refused(prog_type: str) -> None:
    # the live kernel's bpf_prog_test_run_skb: -EINVAL for an IPv4 frame under 34 bytes, an IPv6
    # one under 54 (tests/kernel's kernel test below), any other protocol from ETH_HLEN on
    from framework.errors import InputError

    ipv6 = b"\xff" * 12 + b"\x86\xdd"
    for packet, refused in ((IPV4_TCP[:33], True), (IPV4_TCP[:34], False), (ipv6 + bytes(39), True),
                            (ipv6 + bytes(40), False), (bytes(14), False)):  # fmt: skip
        inp = RunInput("frame", packet)
        if refused:
            with pytest.raises(InputError, match="needs"):
                run_program(program("r0 = 0\nexit", prog_type=prog_type), inp)
        else:
            assert run_program(program("r0 = 0\nexit", prog_type=prog_type), inp).fault is None


@pytest.mark.kernel
@pytest.mark.parametrize("prog_type", ["sched_cls", *TYPES])
def test_the_live_kernel_refuses_the_same_short_frames(prog_type: str) -> None:
    from framework.oracle import bpf_syscall as sys_
    from framework.oracle.loader import load

    if (reason := available()) is not None:
        pytest.skip(reason)
    ipv6 = b"\xff" * 12 + b"\x86\xdd"
    with load(program("r0 = 0\nexit", prog_type=prog_type)) as loaded:
        assert loaded.prog is not None
        for packet, refused in ((IPV4_TCP[:33], True), (IPV4_TCP[:34], False), (ipv6 + bytes(39), True),
                                (ipv6 + bytes(40), False), (bytes(14), False)):  # fmt: skip
            try:
                sys_.prog_test_run(loaded.prog, packet)
                errno = 0
            except OSError as exc:
                errno = exc.errno or -1
            assert errno == (22 if refused else 0), (prog_type, len(packet))


# cgroup skb on skb->sk: bpf_sk_fullsock gives the dummy socket back (TCP_CLOSE), whose struct
# bpf_sock fields go out through cb[]; bpf_tcp_sock gives NULL (its protocol is 0)
FULLSOCK = "\n".join([
    "r6 = r1", "r1 = *(u64 *)(r6 + 168)", "r0 = 0", "if r1 == 0 goto out", "call 95", "if r0 == 0 goto out",
    "r7 = r0", "r2 = *(u32 *)(r7 + 4)", "r3 = *(u32 *)(r7 + 72)", "r3 <<= 8", "r2 |= r3",
    "r3 = *(u32 *)(r7 + 12)", "r3 <<= 16", "r2 |= r3", "*(u32 *)(r6 + 48) = r2",
    "r2 = *(u32 *)(r7 + 24)", "*(u32 *)(r6 + 52) = r2", "r2 = *(u32 *)(r7 + 52)", "*(u32 *)(r6 + 56) = r2",
    "r1 = r7", "call 96", "r2 = 1", "if r0 == 0 goto null", "r2 = 2", "null:", "*(u32 *)(r6 + 60) = r2",
    "r0 = 1", "out:", "exit",
])  # fmt: skip


def test_sk_fullsock_gives_the_test_run_socket_back() -> None:
    from framework.verify import verify

    assert verify(program(FULLSOCK, prog_type="cgroup_skb")).verdict.value == "accepted"
    for engine in ("interp", "jit"):
        got = _run(FULLSOCK, "cgroup_skb", CTX_INPUTS[0], engine)
        assert got.retval == 1 and got.ctx_out is not None, engine
        # AF_INET, TCP_CLOSE, protocol 0; saddr, daddr; bpf_tcp_sock's NULL
        assert got.ctx_out[48:64] == bytes([2, 7, 0, 0]) + IPV4_TCP[26:34] + bytes([1, 0, 0, 0]), engine


@pytest.mark.kernel
def test_sk_fullsock_gives_what_the_live_kernel_gives() -> None:
    theirs = _kernel_outputs(FULLSOCK, "cgroup_skb", CTX_INPUTS)
    for engine in ("interp", "jit"):
        assert _ours(FULLSOCK, "cgroup_skb", CTX_INPUTS, engine) == theirs, engine


# tc's outputs after the helpers that resize the skb: data_out is the L2 frame as they left it,
# ctx_out has gso_segs cleared by skb_gso_reset (gso_size is not copied back: the ctx_in's stays)
RESIZES = {
    "change_tail_grows": "r2 = 60\nr3 = 0\ncall 38\nexit",
    "change_tail_trims": "r2 = 20\nr3 = 0\ncall 38\nexit",
    "change_head": "r2 = 4\nr3 = 0\ncall 43\nexit",
}


@pytest.mark.kernel
@pytest.mark.parametrize("name", sorted(RESIZES))
def test_tc_outputs_after_a_resize_are_the_live_kernels(name: str) -> None:
    inputs = (INPUTS[1],)
    theirs = _kernel_outputs(RESIZES[name], "sched_cls", inputs)
    for engine in ("interp", "jit"):
        assert _ours(RESIZES[name], "sched_cls", inputs, engine) == theirs, engine
