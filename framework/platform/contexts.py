"""Each program type's context, as its verifier callback (`ops->is_valid_access`) sees it.

A program's R1 points at a structure its type defines (`struct __sk_buff`, `struct
xdp_md`, `struct pt_regs`, ...). Whether a load or store of `size` bytes at `off` is
valid, and what a valid load yields, is the program type's `is_valid_access`
(net/core/filter.c, kernel/trace/bpf_trace.c). Each `Context` below is one of those
functions as data: the structure, its size, the kernel function, and `access`, which
answers a (off, size, write) with what the load yields (`scalar`, `pkt`, `pkt_end`,
`pkt_meta`, `sock_common_or_null`, `sock_or_null`), `None` where Linux refuses it, or `UNMODELLED`
where the project does not know the answer (the verdict is then `unsupported`).

tc's `struct __sk_buff` rules are framework.platform.skb's table; socket filters and
cgroup skb programs see the same structure through narrower callbacks, and `skb_access`
gives the field a type's access touches (what the fixup stage and the emulated skb read).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from framework.platform.skb import SkbField, field_at, sock_field_at, valid_access

__all__ = ["CONTEXTS", "SKB_CONTEXTS", "UNMODELLED", "Context", "context_of", "skb_access", "sock_access"]

UNMODELLED = "unmodelled"  # the project does not model this part of the context

Rule = Callable[[int, int, bool], str | None]


@dataclass(frozen=True, slots=True)
class Context:
    """One program type's context structure and its access rule."""

    struct: str  # the C structure R1 points at
    size: int  # sizeof(struct ...), x86-64
    kernel: str  # the `is_valid_access` callback that defines the rule
    access: Rule  # (off, size, write) -> what a load yields, None (refused) or UNMODELLED
    # the expected attach types the rule is for (None: every one); another is UNMODELLED
    attach_types: frozenset[str | None] | None = None
    # where is_valid_access also depends on the expected attach type: the rule of each other one
    by_attach: tuple[tuple[str, Rule], ...] = ()

    def rule(self, attach: str | None) -> Rule | None:
        """The access rule under expected attach type `attach` (None: not modelled)."""
        if self.attach_types is None or attach in self.attach_types:
            return self.access
        return dict(self.by_attach).get(attach or "")


def _tc(off: int, size: int, write: bool) -> str | None:
    # kernel: tc_cls_act_is_valid_access -> bpf_skb_is_valid_access
    f = valid_access(off, size, write)
    return None if f is None else f.yields


# __sk_buff fields 88..139 (family .. local_port): the socket's addresses, not in tc's table
_SK_FIELDS = range(88, 140)


def _socket_filter(off: int, size: int, write: bool) -> str | None:
    # kernel: sk_filter_is_valid_access refuses these before bpf_skb_is_valid_access
    f = field_at(off)
    if off in _SK_FIELDS or (f is not None and f.name in _SOCKET_FILTER_REFUSED):
        return None
    if write and (f is None or f.name != "cb"):  # sk_filter_is_valid_access: only cb[] is written
        return None
    return _generic_skb(off, size, write)


_SOCKET_FILTER_REFUSED = {"tc_classid", "data", "data_meta", "data_end", "tstamp", "wire_len", "hwtstamp"}


def _cgroup_skb(off: int, size: int, write: bool) -> str | None:
    # kernel: cg_skb_is_valid_access (data and data_end need CAP_PERFMON: root has it; tstamp
    # writes CAP_SYS_ADMIN), then bpf_skb_is_valid_access
    if off in _SK_FIELDS:
        return None if write else _sk_field(off, size)
    f = field_at(off)
    if f is not None and f.name in ("tc_classid", "data_meta", "wire_len"):
        return None
    if write and (f is None or f.name not in ("mark", "priority", "cb", "tstamp")):
        return None
    return _generic_skb(off, size, write)


def _generic_skb(off: int, size: int, write: bool) -> str | None:
    # kernel: bpf_skb_is_valid_access; the callers have already refused what their type may not
    # touch, and every field they let a program write tc writes too, so tc's table decides sizes
    f = field_at(off)
    if f is None or f.name == "tstamp_type":  # tc's callback reads tstamp_type before it; the rest refuse it
        return None
    got = valid_access(off, size, write)
    return None if got is None else got.yields


def _xdp(off: int, size: int, write: bool) -> str | None:
    # kernel: xdp_is_valid_access -> __is_valid_xdp_access (egress_ifindex only for BPF_XDP_DEVMAP,
    # no writes but rx_queue_index when offloaded)
    if off < 0 or off >= 24 or off % size or size != 4 or write or off == 20:
        return None
    return {0: "pkt", 4: "pkt_end", 8: "pkt_meta"}.get(off, "scalar")


def _kprobe(off: int, size: int, write: bool) -> str | None:
    # kernel: kprobe_prog_is_valid_access (any aligned read inside struct pt_regs)
    if off < 0 or off >= PT_REGS_SIZE or write or off % size or off + size > PT_REGS_SIZE:
        return None
    return "scalar"


PT_REGS_SIZE = 168  # sizeof(struct pt_regs), x86-64: 21 registers of 8 bytes
PERF_MAX_TRACE_SIZE = 8192  # include/linux/trace_events.h (raised from 2048 in Linux 6.5)
MAX_BPF_FUNC_ARGS = 12  # include/linux/bpf.h


def _tracepoint(off: int, size: int, write: bool) -> str | None:
    # kernel: tp_prog_is_valid_access (the first 8 bytes, the common fields' pointer, are hidden).
    # Its `off < sizeof(void *)` compares as unsigned, so a negative offset passes it; `off % size`
    # (C's remainder) then refuses only the misaligned ones, as the live kernel does.
    if 0 <= off < 8 or off >= PERF_MAX_TRACE_SIZE or write or off % size:
        return None
    return "scalar"


def _raw_tracepoint(off: int, size: int, write: bool) -> str | None:
    # kernel: raw_tp_prog_is_valid_access (an array of u64 arguments)
    if off < 0 or off >= 8 * MAX_BPF_FUNC_ARGS or write or off % size:
        return None
    return "scalar"


def _perf_event(off: int, size: int, write: bool) -> str | None:
    # kernel: pe_prog_is_valid_access: struct bpf_perf_event_data { regs; sample_period; addr; }
    if off < 0 or off >= PT_REGS_SIZE + 16 or write or off % size:
        return None
    if off >= PT_REGS_SIZE:  # sample_period, addr: narrow reads allowed (bpf_ctx_narrow_access_ok)
        return "scalar"
    return "scalar" if size == 8 else None  # regs: whole registers only


SOCK_OPS_SIZE = 224  # sizeof(struct bpf_sock_ops), Linux 6.18 (skb_hwtstamp is its last field)
# struct bpf_sock_ops offsets (the running kernel's BTF)
_SOCK_OPS_REPLY = 4  # the union of args[4], reply and replylong[4]
_SOCK_OPS_TXHASH = 164
_SOCK_OPS_U64 = {168: "scalar", 176: "scalar", 184: "sock_or_null", 192: "pkt", 200: "pkt_end", 216: "scalar"}
_SOCK_OPS_TCP_FLAGS = 212  # skb_tcp_flags


def _sock_ops(off: int, size: int, write: bool) -> str | None:
    # kernel: sock_ops_is_valid_access (net/core/filter.c)
    if off < 0 or off >= SOCK_OPS_SIZE or off % size:
        return None
    if write:  # only reply and sk_txhash are written, whole
        return "scalar" if off in (_SOCK_OPS_REPLY, _SOCK_OPS_TXHASH) and size == 4 else None
    field = off - off % 8
    if field in _SOCK_OPS_U64:  # bytes_received, bytes_acked, sk, skb_data, skb_data_end, skb_hwtstamp
        return _SOCK_OPS_U64[field] if size == 8 else None
    if off == _SOCK_OPS_TCP_FLAGS:  # `case offsetof(skb_tcp_flags)`: narrow reads at its first byte only
        return "scalar"
    return "scalar" if size == 4 else None  # the rest: whole u32 fields only


def _sk_skb(off: int, size: int, write: bool) -> str | None:
    # kernel: sk_skb_is_valid_access refuses these, lets only tc_index and priority be written and
    # mark not be read, then bpf_skb_is_valid_access (tc's table decides the sizes)
    f = field_at(off)
    if f is not None and f.name in ("tc_classid", "data_meta", "tstamp", "wire_len", "hwtstamp", "mark"):
        return None
    if write and (f is None or f.name not in ("tc_index", "priority")):
        return None
    if off in _SK_FIELDS:
        return _sk_field(off, size)
    return _generic_skb(off, size, write)


_SK_ADDRESSES = range(92, 132)  # remote_ip4, local_ip4, remote_ip6[4], local_ip6[4]: whole words only


def _sk_field(off: int, size: int) -> str | None:
    # kernel: bpf_skb_is_valid_access for __sk_buff's socket fields (family .. local_port): the
    # addresses are read as whole u32s, family and the ports narrower too (bpf_ctx_narrow_access_ok)
    if off % size:
        return None
    if off in _SK_ADDRESSES:
        return "scalar" if size == 4 else None
    return "scalar" if size <= 4 else None


SK_MSG_MD_SIZE = 80  # sizeof(struct sk_msg_md)
_SK_MSG_PTRS = {0: "pkt", 8: "pkt_end", 72: "sock"}  # data, data_end, sk (PTR_TO_SOCKET, never NULL)


def _sk_msg(off: int, size: int, write: bool) -> str | None:
    # kernel: sk_msg_is_valid_access: read only; the pointers whole, family .. size as u32
    if write or off < 0 or off >= SK_MSG_MD_SIZE or off % size:
        return None
    field = off - off % 8
    if field in _SK_MSG_PTRS:
        return _SK_MSG_PTRS[field] if size == 8 else None
    return "scalar" if size == 4 else None


BPF_SOCK_SIZE = 80  # sizeof(struct bpf_sock), Linux 6.18
_SOCK_WRITABLE = (0, 16, 20)  # bound_dev_if, mark, priority: sock_create and sock_release only
_SOCK_POST_BIND = range(24, 48)  # src_ip4, src_ip6[4], src_port: the post_bind attach types only
_SOCK_NARROW_AT = (4, 8, 12, 44, 72, 76)  # family, type, protocol, src_port, state, rx_queue_mapping
_SOCK_NARROW_IN = range(52, 72)  # dst_ip4, dst_ip6[4]: narrow anywhere inside
_SOCK_DST_PORT = range(48, 50)  # a __be16, then 2 bytes no access reaches


_SOCK_SRC_IP4, _SOCK_SRC_IP6, _SOCK_SRC_PORT = range(24, 28), range(28, 44), range(44, 48)


def _cgroup_sock(off: int, size: int, write: bool) -> str | None:
    # kernel: sock_filter_is_valid_access for BPF_CGROUP_INET_SOCK_CREATE / _RELEASE
    # (__sock_filter_check_attach_type: bound_dev_if, mark and priority written; no source address)
    if off in _SOCK_POST_BIND:
        return None
    if write:
        return "scalar" if off in _SOCK_WRITABLE and size == 4 else None
    return _bpf_sock(off, size)


def _post_bind(family: int) -> Rule:
    src = _SOCK_SRC_IP4 if family == 4 else _SOCK_SRC_IP6

    def rule(off: int, size: int, write: bool) -> str | None:
        # kernel: __sock_filter_check_attach_type for BPF_CGROUP_INET4/6_POST_BIND: the source
        # address of its family and the source port read only; bound_dev_if, mark, priority refused
        if write or off in _SOCK_WRITABLE or (off in _SOCK_POST_BIND and off not in src and off not in _SOCK_SRC_PORT):
            return None
        return _bpf_sock(off, size)

    return rule


def _bpf_sock(off: int, size: int) -> str | None:
    # kernel: bpf_sock_is_valid_access
    if off < 0 or off >= BPF_SOCK_SIZE or off % size:
        return None
    if size >= 4:
        return "scalar" if size == 4 else None
    # bpf_ctx_narrow_access_ok: a narrower read at a field's start (the `offsetof` cases) or, in
    # the `bpf_ctx_range` cases (the addresses), anywhere inside; dst_port's narrow field is its 2 bytes
    if off in _SOCK_NARROW_AT or off in _SOCK_NARROW_IN or off in _SOCK_SRC_IP4 or off in _SOCK_SRC_IP6:
        return "scalar"
    return "scalar" if off in _SOCK_DST_PORT and off + size <= 50 else None


BPF_SOCK_ADDR_SIZE = 72  # sizeof(struct bpf_sock_addr)
_ADDR_USER_IP4, _ADDR_USER_IP6, _ADDR_USER_PORT = range(4, 8), range(8, 24), range(24, 28)
_ADDR_MSG_SRC_IP4, _ADDR_MSG_SRC_IP6, _ADDR_SK = range(40, 44), range(44, 60), 64
_ADDR_WRITABLE = (_ADDR_USER_IP4, _ADDR_USER_IP6, _ADDR_USER_PORT, _ADDR_MSG_SRC_IP4, _ADDR_MSG_SRC_IP6)
_ADDR_READ_ONLY = range(28, 40)  # family, type, protocol (user_family, at 0, too)
# the attach types whose address family owns each address field (the rest refuse it)
_ADDR_OWNERS = (
    (_ADDR_USER_IP4, ("bind", "connect", "getpeername", "getsockname", "sendmsg", "recvmsg"), 4),
    (_ADDR_USER_IP6, ("bind", "connect", "getpeername", "getsockname", "sendmsg", "recvmsg"), 6),
    (_ADDR_MSG_SRC_IP4, ("sendmsg",), 4),
    (_ADDR_MSG_SRC_IP6, ("sendmsg",), 6),
)


def _sock_addr(hook: str, family: int) -> Rule:
    def rule(off: int, size: int, write: bool) -> str | None:
        # kernel: sock_addr_is_valid_access under the attach type (hook, family)
        if off < 0 or off >= BPF_SOCK_ADDR_SIZE or off % size:
            return None
        for field, hooks, fam in _ADDR_OWNERS:
            if off in field and (fam != family or hook not in hooks):
                return None
        if any(off in f for f in _ADDR_WRITABLE):
            # bpf_ctx_wide_access_ok: a u64, 8-aligned, inside one of the IPv6 arrays
            if size == 8 and any(off in a and off + 8 <= a.stop for a in (_ADDR_USER_IP6, _ADDR_MSG_SRC_IP6)):
                return "scalar"
            return "scalar" if (size == 4 if write else size <= 4) else None
        if off == 0 or off in _ADDR_READ_ONLY:
            return "scalar" if not write and size == 4 else None
        if off == _ADDR_SK:
            return "sock" if not write and size == 8 else None
        return None  # the padding before sk, and sk's upper half

    return rule


_SOCK_ADDR_HOOKS = tuple(
    (f"cgroup_{'udp' if hook in ('sendmsg', 'recvmsg') else 'inet'}{family}_{hook}", hook, family)
    for hook in ("bind", "connect", "getpeername", "getsockname", "sendmsg", "recvmsg")
    for family in (4, 6)
)

BPF_TCP_SOCK_SIZE = 112  # offsetofend(struct bpf_tcp_sock, icsk_retransmits)
_TCP_SOCK_U64 = (80, 88)  # bytes_received, bytes_acked
# the u32 halves of those two: bpf_tcp_sock_is_valid_access allows them, bpf_tcp_sock_convert_ctx_access
# has no case for them, so the load is refused after verification ("error during ctx access conversion")
TCP_SOCK_UNCONVERTIBLE = (84, 92)
_SOCK_COMMON_REFUSED = range(8, 24)  # type .. priority: a struct sock's, not a sock_common's


def sock_access(kind: str, off: int, size: int) -> bool:
    """Whether a read of `size` bytes at `off` through a socket pointer of `kind` (sock_common,
    sock, tcp_sock) is allowed."""
    # kernel: bpf_sock_is_valid_access_off -> check_sock_access: bpf_sock_common_is_valid_access,
    # bpf_sock_is_valid_access, bpf_tcp_sock_is_valid_access
    if kind == "tcp_sock":
        if off < 0 or off >= BPF_TCP_SOCK_SIZE or off % size:
            return False
        return size == (8 if off in _TCP_SOCK_U64 else 4)
    if kind == "sock_common" and off in _SOCK_COMMON_REFUSED:
        return False
    return _bpf_sock(off, size) is not None


CONTEXTS: dict[str, Context] = {
    "sched_cls": Context("__sk_buff", 192, "tc_cls_act_is_valid_access", _tc),
    "sched_act": Context("__sk_buff", 192, "tc_cls_act_is_valid_access", _tc),
    "socket_filter": Context("__sk_buff", 192, "sk_filter_is_valid_access", _socket_filter),
    "cgroup_skb": Context("__sk_buff", 192, "cg_skb_is_valid_access", _cgroup_skb),
    "xdp": Context("xdp_md", 24, "xdp_is_valid_access", _xdp),
    "kprobe": Context("pt_regs", PT_REGS_SIZE, "kprobe_prog_is_valid_access", _kprobe),
    "tracepoint": Context("trace_event_raw_*", PERF_MAX_TRACE_SIZE, "tp_prog_is_valid_access", _tracepoint),
    "raw_tracepoint": Context("bpf_raw_tracepoint_args", 96, "raw_tp_prog_is_valid_access", _raw_tracepoint),
    "perf_event": Context("bpf_perf_event_data", PT_REGS_SIZE + 16, "pe_prog_is_valid_access", _perf_event),
    "sock_ops": Context("bpf_sock_ops", SOCK_OPS_SIZE, "sock_ops_is_valid_access", _sock_ops),
    "sk_skb": Context("__sk_buff", 192, "sk_skb_is_valid_access", _sk_skb),
    "sk_msg": Context("sk_msg_md", SK_MSG_MD_SIZE, "sk_msg_is_valid_access", _sk_msg),
    "cgroup_sock": Context(
        "bpf_sock",
        BPF_SOCK_SIZE,
        "sock_filter_is_valid_access",
        _cgroup_sock,
        frozenset({None, "cgroup_inet_sock_create", "cgroup_inet_sock_release"}),
        (("cgroup_inet4_post_bind", _post_bind(4)), ("cgroup_inet6_post_bind", _post_bind(6))),
    ),
    # bpf_prog_load_fixup_attach_type gives no default: the attach type is required
    "cgroup_sock_addr": Context(
        "bpf_sock_addr",
        BPF_SOCK_ADDR_SIZE,
        "sock_addr_is_valid_access",
        _sock_addr("connect", 4),
        frozenset({"cgroup_inet4_connect"}),
        tuple((name, _sock_addr(hook, fam)) for name, hook, fam in _SOCK_ADDR_HOOKS if name != "cgroup_inet4_connect"),
    ),
}


SKB_CONTEXTS = ("sched_cls", "sched_act", "socket_filter", "cgroup_skb")  # the __sk_buff types a test run builds


def skb_access(prog_type: str, off: int, size: int, write: bool) -> SkbField | None:
    """The `__sk_buff` field a `prog_type` access of `size` bytes at `off` reads or writes, or None
    where that type's is_valid_access refuses it (one of SKB_CONTEXTS)."""
    rule = CONTEXTS[prog_type].access
    if rule(off, size, write) is None:
        return None
    return field_at(off) or sock_field_at(off)


def context_of(prog_type: str) -> Context | None:
    """The context of a `prog_type` program (None: the project does not model that type's context)."""
    return CONTEXTS.get(prog_type)
