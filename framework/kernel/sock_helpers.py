"""The emulated kernel's helpers that look at a socket pointer (net/core/filter.c): what a cgroup
skb program calls on skb->sk (the test run's dummy socket) or on a socket it looked up. Every
socket the emulated kernel holds is laid out as the `struct bpf_sock` its loads read
(framework.kernel.objects, framework.kernel.skb), so its state and protocol are read there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from framework.kernel.api import Engine, NotEmulated
from framework.kernel.registry import helper_service

if TYPE_CHECKING:
    from framework.kernel.services import EmulatedKernel

__all__: list[str] = []

BPF_SOCK_PROTOCOL, BPF_SOCK_STATE = 12, 72  # offsetof(struct bpf_sock, protocol / state)
TCP_TIME_WAIT, TCP_NEW_SYN_RECV = 6, 12  # include/net/tcp_states.h
IPPROTO_TCP = 6


def _fullsock(k: EmulatedKernel, sk: int) -> bool:
    # include/net/sock.h sk_fullsock: neither a timewait nor a request socket
    return k.memory.load(sk + BPF_SOCK_STATE, 4) not in (TCP_TIME_WAIT, TCP_NEW_SYN_RECV)


@helper_service("sk_fullsock")
def _sk_fullsock(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_sk_fullsock: the socket itself when it is a full one, else NULL
    return a[0] if _fullsock(k, a[0]) else 0


@helper_service("tcp_sock")
def _tcp_sock(k: EmulatedKernel, a: Sequence[int], e: Engine) -> int:
    # kernel: bpf_tcp_sock: a full TCP socket as struct tcp_sock, else NULL (the test run's dummy
    # socket has protocol 0); the emulated sockets carry no struct bpf_tcp_sock to read
    if not _fullsock(k, a[0]) or k.memory.load(a[0] + BPF_SOCK_PROTOCOL, 4) != IPPROTO_TCP:
        return 0
    raise NotEmulated("bpf_tcp_sock of a TCP socket (its struct bpf_tcp_sock) is not emulated")
