"""__sk_buff as bpf_prog_test_run_skb fills it, read by programs through the emulated ctx."""

from __future__ import annotations

import pytest

from framework.errors import InputError
from framework.kernel.objects import RunInput
from framework.platform.skb import SK_BUFF_SIZE, skb_field
from framework.run.result import run_program

from .prog import program

# Ethernet 00:00:00:00:00:02 <- :01, IPv4, then 40 bytes: 54 in all
IPV4 = bytes.fromhex("000000000002000000000001" + "0800") + bytes(range(40))


def field(off: int, size: str = "u32", packet: bytes = IPV4) -> int:
    prog = program(f"r0 = *({size} *)(r1 + {off})\nexit")
    result = run_program(prog, RunInput(packet=packet))
    assert result.fault is None, result.fault
    return result.r0


def test_len_protocol_ifindex_pkt_type() -> None:
    assert field(skb_field("len").off) == len(IPV4)
    assert field(skb_field("protocol").off) == 0x0008  # htons(ETH_P_IP), as the u16 sits in memory
    assert field(skb_field("ifindex").off) == 1  # loopback of the test run's netns
    assert field(skb_field("pkt_type").off) == 3  # PACKET_OTHERHOST: not loopback's all-zero address
    broadcast = b"\xff" * 6 + IPV4[6:]
    assert field(skb_field("pkt_type").off, packet=broadcast) == 1
    assert field(skb_field("pkt_type").off, packet=bytes(6) + IPV4[6:]) == 0
    assert [field(skb_field(name).off) for name in ("mark", "priority", "wire_len")] == [0, 0, 0]


def test_802_3_length_field() -> None:
    assert field(skb_field("protocol").off, packet=bytes(12) + b"\x00\x2e" + bytes(46)) == 0x0400  # htons(ETH_P_802_2)


def test_data_pointers_bound_the_packet() -> None:
    text = """
r2 = *(u32 *)(r1 + 76)
r3 = *(u32 *)(r1 + 80)
r4 = *(u32 *)(r1 + 140)
r0 = r3
r0 -= r2
if r4 != r2 goto bad
r5 = *(u8 *)(r2 + 13)
r0 <<= 8
r0 |= r5
exit
bad:
r0 = -1
exit
"""
    result = run_program(program(text), RunInput(packet=IPV4))
    assert result.fault is None and result.r0 == (len(IPV4) << 8) | 0x00


def test_reading_past_data_end_faults() -> None:
    result = run_program(program("r2 = *(u32 *)(r1 + 80)\nr0 = *(u8 *)(r2 + 0)\nexit"), RunInput(packet=IPV4))
    assert result.fault is not None and "past the end of packet" in result.fault


def test_ctx_in_sets_only_what_test_run_allows() -> None:
    mark, wire_len = skb_field("mark").off, skb_field("wire_len").off
    ctx_in = bytearray(SK_BUFF_SIZE)
    ctx_in[mark] = 7
    result = run_program(program(f"r0 = *(u32 *)(r1 + {mark})\nexit"), RunInput(packet=IPV4, ctx=bytes(ctx_in)))
    assert result.r0 == 7
    assert run_program(program("r0 = *(u32 *)(r1 + 0)\nexit"), RunInput(packet=IPV4, ctx=bytes(ctx_in))).r0 == 54
    with_ctx = RunInput(packet=IPV4, ctx=bytes(ctx_in))
    assert run_program(program(f"r0 = *(u32 *)(r1 + {wire_len})\nexit"), with_ctx).r0 == 54
    ctx_in[skb_field("len").off] = 99  # convert___skb_to_skb: not settable, the test run refuses it (-EINVAL)
    with pytest.raises(InputError, match=r"byte 0 \(len\) must be zero"):
        run_program(program("r0 = 0\nexit"), RunInput(packet=IPV4, ctx=bytes(ctx_in)))


def test_ld_abs_reads_big_endian_and_fails_to_zero() -> None:
    prog = program("r6 = r1\nr0 = *(u16 *)skb[12]\nexit")
    assert run_program(prog, RunInput(packet=IPV4)).r0 == 0x0800
    prog = program("r6 = r1\nr7 = 50\nr0 = *(u32 *)skb[r7 + 0]\nexit")
    assert run_program(prog, RunInput(packet=IPV4)).r0 == int.from_bytes(IPV4[50:54], "big")
    failing = program("r6 = r1\nr7 = 52\nr0 = *(u32 *)skb[r7 + 0]\nr0 = 5\nexit")
    result = run_program(failing, RunInput(packet=IPV4))
    assert result.fault is None and result.r0 == 0 and result.bpf_insns == 3


def test_short_packet_is_bad_input() -> None:
    with pytest.raises(InputError):
        run_program(program("r0 = 0\nexit"), RunInput(packet=b"\x00" * 13))
