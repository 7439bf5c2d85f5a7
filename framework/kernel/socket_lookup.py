"""Socket lookups and releases, and the socket options helpers, as the emulated kernel runs them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from framework.kernel.api import Engine, NotEmulated
from framework.kernel.registry import EOPNOTSUPP, helper_service, neg_errno

if TYPE_CHECKING:
    from framework.kernel.services import EmulatedKernel


BPF_SOCK_OPS_WRITE_HDR_OPT_CB = 15  # uapi enum: the last op run under the TCP socket's lock


@helper_service("setsockopt")
@helper_service("getsockopt")
def _sockopt(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_sock_ops_setsockopt / bpf_sock_ops_getsockopt: an op outside the locked TCP
    # callbacks (is_locked_tcp_sock_ops) is -EOPNOTSUPP before the socket is looked at. The emulated
    # context carries no socket, so an op that would reach one is not emulated.
    op = k.memory.load(a[0], 4)  # bpf_sock_ops.op, the program's own view of the context
    if op > BPF_SOCK_OPS_WRITE_HDR_OPT_CB:
        return neg_errno(EOPNOTSUPP)
    raise NotEmulated(f"bpf_setsockopt/bpf_getsockopt on a sock_ops op {op} socket is not emulated")


def _sk_lookup(k: EmulatedKernel, a: Sequence[int], e: Engine, proto: str, by: str) -> int:
    size, flags = a[2] & 0xFFFFFFFF, a[4]
    if flags:
        return 0
    if size == 12:  # sizeof(tuple->ipv4)
        t = k.memory.read(a[1], 12)
        family, saddr, daddr, sport, dport = "ipv4", t[0:4], t[4:8], t[8:10], t[10:12]
    elif size == 36:  # sizeof(tuple->ipv6)
        t = k.memory.read(a[1], 36)
        family, saddr, daddr, sport, dport = "ipv6", t[0:16], t[16:32], t[32:34], t[34:36]
    else:
        return 0
    sock = k.objects.find_socket(
        proto, family, daddr, int.from_bytes(dport, "big"), saddr, int.from_bytes(sport, "big")
    )
    if sock is None:
        return 0
    k._acquire("socket", sock.addr, e, by)
    return sock.addr


@helper_service("sk_lookup_tcp")
def _sk_lookup_tcp(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return _sk_lookup(k, a, e, "tcp", "bpf_sk_lookup_tcp")


@helper_service("skc_lookup_tcp")
def _skc_lookup_tcp(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return _sk_lookup(k, a, e, "tcp", "bpf_skc_lookup_tcp")


@helper_service("sk_lookup_udp")
def _sk_lookup_udp(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    return _sk_lookup(k, a, e, "udp", "bpf_sk_lookup_udp")


@helper_service("sk_release")
def _sk_release(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    k._release("socket", a[0], e, "bpf_sk_release")
    return 0
