"""ELF section names to program types, as libbpf's `section_defs` table maps them.

A name ending in "+" matches the bare prefix or the prefix followed by "/" and an
attach target (libbpf: sec_def_matches); other names match exactly. A name no entry
matches is then matched as libbpf before 1.0 did for the entries it marked SEC_SLOPPY_PFX:
by prefix alone (`xdp_fwd`, `socket1`, `cgroup/sock1`, as the kernel's older samples and
PREVAIL's collection name them). libbpf 1.0 refuses those names; the match says it is
`legacy`. Types and
attach types are the suffixes of BPF_PROG_TYPE_* and BPF_* in lower case; an
attach type of None means libbpf passes 0 without meaning one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SectionDef:
    pattern: str
    prog_type: str
    attach_type: str | None = None
    sleepable: bool = False
    sloppy: bool = False  # libbpf < 1.0: SEC_SLOPPY_PFX, matched by prefix alone


@dataclass(frozen=True, slots=True)
class SectionMatch:
    prog_type: str
    expected_attach_type: str | None
    attach_to: str | None
    sleepable: bool
    legacy: bool = False  # matched by libbpf 0.x's prefix rule only; libbpf 1.0 refuses the name


def _d(pattern: str, prog_type: str, attach_type: str | None = None, sleepable: bool = False) -> SectionDef:
    return SectionDef(pattern, prog_type, attach_type, sleepable, sloppy=pattern in _SLOPPY)


# libbpf 0.x section_defs flagged SEC_SLOPPY_PFX (removed in 1.0 with LIBBPF_STRICT_SEC_NAME)
_SLOPPY = frozenset(
    {
        "socket", "sk_reuseport/migrate", "sk_reuseport", "classifier", "action", "xdp", "perf_event",
        "lwt_in", "lwt_out", "lwt_xmit", "lwt_seg6local", "cgroup_skb/ingress", "cgroup_skb/egress",
        "cgroup/skb", "cgroup/sock_create", "cgroup/sock_release", "cgroup/sock", "cgroup/post_bind4",
        "cgroup/post_bind6", "cgroup/dev", "sockops", "sk_skb/stream_parser", "sk_skb/stream_verdict",
        "sk_skb", "sk_msg", "lirc_mode2", "flow_dissector", "cgroup/bind4", "cgroup/bind6",
        "cgroup/connect4", "cgroup/connect6", "cgroup/sendmsg4", "cgroup/sendmsg6", "cgroup/recvmsg4",
        "cgroup/recvmsg6", "cgroup/getpeername4", "cgroup/getpeername6", "cgroup/getsockname4",
        "cgroup/getsockname6", "cgroup/sysctl", "cgroup/getsockopt", "cgroup/setsockopt", "sk_lookup",
    }
)  # fmt: skip


# libbpf: section_defs (src/libbpf.c), in its order: the first match wins.
SECTION_DEFS: tuple[SectionDef, ...] = (
    _d("socket", "socket_filter"),
    _d("sk_reuseport/migrate", "sk_reuseport", "sk_reuseport_select_or_migrate"),
    _d("sk_reuseport", "sk_reuseport", "sk_reuseport_select"),
    _d("kprobe+", "kprobe"),
    _d("uprobe+", "kprobe"),
    _d("uprobe.s+", "kprobe", sleepable=True),
    _d("kretprobe+", "kprobe"),
    _d("uretprobe+", "kprobe"),
    _d("uretprobe.s+", "kprobe", sleepable=True),
    _d("kprobe.multi+", "kprobe", "trace_kprobe_multi"),
    _d("kretprobe.multi+", "kprobe", "trace_kprobe_multi"),
    _d("uprobe.multi+", "kprobe", "trace_uprobe_multi"),
    _d("uretprobe.multi+", "kprobe", "trace_uprobe_multi"),
    _d("ksyscall+", "kprobe"),
    _d("kretsyscall+", "kprobe"),
    _d("usdt+", "kprobe"),
    _d("tc/ingress", "sched_cls", "tcx_ingress"),
    _d("tc/egress", "sched_cls", "tcx_egress"),
    _d("tcx/ingress", "sched_cls", "tcx_ingress"),
    _d("tcx/egress", "sched_cls", "tcx_egress"),
    _d("tc", "sched_cls"),
    _d("classifier", "sched_cls"),
    _d("action", "sched_act"),
    _d("netkit/primary", "sched_cls", "netkit_primary"),
    _d("netkit/peer", "sched_cls", "netkit_peer"),
    _d("tracepoint+", "tracepoint"),
    _d("tp+", "tracepoint"),
    _d("raw_tracepoint+", "raw_tracepoint"),
    _d("raw_tp+", "raw_tracepoint"),
    _d("raw_tracepoint.w+", "raw_tracepoint_writable"),
    _d("raw_tp.w+", "raw_tracepoint_writable"),
    _d("tp_btf+", "tracing", "trace_raw_tp"),
    _d("fentry+", "tracing", "trace_fentry"),
    _d("fmod_ret+", "tracing", "modify_return"),
    _d("fexit+", "tracing", "trace_fexit"),
    _d("fentry.s+", "tracing", "trace_fentry", sleepable=True),
    _d("fmod_ret.s+", "tracing", "modify_return", sleepable=True),
    _d("fexit.s+", "tracing", "trace_fexit", sleepable=True),
    _d("freplace+", "ext"),
    _d("lsm+", "lsm", "lsm_mac"),
    _d("lsm.s+", "lsm", "lsm_mac", sleepable=True),
    _d("lsm_cgroup+", "lsm", "lsm_cgroup"),
    _d("iter+", "tracing", "trace_iter"),
    _d("iter.s+", "tracing", "trace_iter", sleepable=True),
    _d("syscall", "syscall", sleepable=True),
    _d("xdp.frags/devmap", "xdp", "xdp_devmap"),
    _d("xdp/devmap", "xdp", "xdp_devmap"),
    _d("xdp.frags/cpumap", "xdp", "xdp_cpumap"),
    _d("xdp/cpumap", "xdp", "xdp_cpumap"),
    _d("xdp.frags", "xdp", "xdp"),
    _d("xdp", "xdp", "xdp"),
    _d("perf_event", "perf_event"),
    _d("lwt_in", "lwt_in"),
    _d("lwt_out", "lwt_out"),
    _d("lwt_xmit", "lwt_xmit"),
    _d("lwt_seg6local", "lwt_seg6local"),
    _d("sockops", "sock_ops", "cgroup_sock_ops"),
    _d("sk_skb/stream_parser", "sk_skb", "sk_skb_stream_parser"),
    _d("sk_skb/stream_verdict", "sk_skb", "sk_skb_stream_verdict"),
    _d("sk_skb/verdict", "sk_skb", "sk_skb_verdict"),
    _d("sk_skb", "sk_skb"),
    _d("sk_msg", "sk_msg", "sk_msg_verdict"),
    _d("lirc_mode2", "lirc_mode2", "lirc_mode2"),
    _d("flow_dissector", "flow_dissector", "flow_dissector"),
    _d("cgroup_skb/ingress", "cgroup_skb", "cgroup_inet_ingress"),
    _d("cgroup_skb/egress", "cgroup_skb", "cgroup_inet_egress"),
    _d("cgroup/skb", "cgroup_skb"),
    _d("cgroup/sock_create", "cgroup_sock", "cgroup_inet_sock_create"),
    _d("cgroup/sock_release", "cgroup_sock", "cgroup_inet_sock_release"),
    _d("cgroup/sock", "cgroup_sock", "cgroup_inet_sock_create"),
    _d("cgroup/post_bind4", "cgroup_sock", "cgroup_inet4_post_bind"),
    _d("cgroup/post_bind6", "cgroup_sock", "cgroup_inet6_post_bind"),
    _d("cgroup/bind4", "cgroup_sock_addr", "cgroup_inet4_bind"),
    _d("cgroup/bind6", "cgroup_sock_addr", "cgroup_inet6_bind"),
    _d("cgroup/connect4", "cgroup_sock_addr", "cgroup_inet4_connect"),
    _d("cgroup/connect6", "cgroup_sock_addr", "cgroup_inet6_connect"),
    _d("cgroup/sendmsg4", "cgroup_sock_addr", "cgroup_udp4_sendmsg"),
    _d("cgroup/sendmsg6", "cgroup_sock_addr", "cgroup_udp6_sendmsg"),
    _d("cgroup/recvmsg4", "cgroup_sock_addr", "cgroup_udp4_recvmsg"),
    _d("cgroup/recvmsg6", "cgroup_sock_addr", "cgroup_udp6_recvmsg"),
    _d("cgroup/getpeername4", "cgroup_sock_addr", "cgroup_inet4_getpeername"),
    _d("cgroup/getpeername6", "cgroup_sock_addr", "cgroup_inet6_getpeername"),
    _d("cgroup/getsockname4", "cgroup_sock_addr", "cgroup_inet4_getsockname"),
    _d("cgroup/getsockname6", "cgroup_sock_addr", "cgroup_inet6_getsockname"),
    _d("cgroup/sysctl", "cgroup_sysctl", "cgroup_sysctl"),
    _d("cgroup/getsockopt", "cgroup_sockopt", "cgroup_getsockopt"),
    _d("cgroup/setsockopt", "cgroup_sockopt", "cgroup_setsockopt"),
    _d("cgroup/dev", "cgroup_device", "cgroup_device"),
    _d("struct_ops+", "struct_ops"),
    _d("struct_ops.s+", "struct_ops", sleepable=True),
    _d("sk_lookup", "sk_lookup", "sk_lookup"),
    _d("netfilter", "netfilter", "netfilter"),
)


def match_section(name: str) -> SectionMatch | None:
    """The program type a section name selects, or None (libbpf: find_sec_def)."""
    # libbpf: bpf_object__init_prog, SEC("?abc") is SEC("abc") with autoload off; the project
    # verifies every program, as veristat loads each one alone
    name = name.removeprefix("?")
    for d in SECTION_DEFS:
        if d.pattern.endswith("+"):
            prefix = d.pattern[:-1]
            if name == prefix:
                return SectionMatch(d.prog_type, d.attach_type, None, d.sleepable)
            if name.startswith(prefix + "/"):
                return SectionMatch(d.prog_type, d.attach_type, name[len(prefix) + 1 :] or None, d.sleepable)
        elif name == d.pattern:
            return SectionMatch(d.prog_type, d.attach_type, None, d.sleepable)
    for d in SECTION_DEFS:  # libbpf 0.x, sec_def_matches without LIBBPF_STRICT_SEC_NAME
        if d.sloppy and name.startswith(d.pattern):
            return SectionMatch(d.prog_type, d.attach_type, None, d.sleepable, legacy=True)
    return None


# enum bpf_prog_type, by number (include/uapi/linux/bpf.h), without the BPF_PROG_TYPE_ prefix.
PROG_TYPES: tuple[str, ...] = (
    "unspec", "socket_filter", "kprobe", "sched_cls", "sched_act", "tracepoint", "xdp",
    "perf_event", "cgroup_skb", "cgroup_sock", "lwt_in", "lwt_out", "lwt_xmit", "sock_ops",
    "sk_skb", "cgroup_device", "sk_msg", "raw_tracepoint", "cgroup_sock_addr", "lwt_seg6local",
    "lirc_mode2", "sk_reuseport", "flow_dissector", "cgroup_sysctl", "raw_tracepoint_writable",
    "cgroup_sockopt", "tracing", "struct_ops", "ext", "lsm", "sk_lookup", "syscall", "netfilter",
)  # fmt: skip

# enum bpf_map_type, by number (include/uapi/linux/bpf.h).
MAP_TYPES: tuple[str, ...] = (
    "unspec", "hash", "array", "prog_array", "perf_event_array", "percpu_hash", "percpu_array",
    "stack_trace", "cgroup_array", "lru_hash", "lru_percpu_hash", "lpm_trie", "array_of_maps",
    "hash_of_maps", "devmap", "sockmap", "cpumap", "xskmap", "sockhash", "cgroup_storage",
    "reuseport_sockarray", "percpu_cgroup_storage", "queue", "stack", "sk_storage", "devmap_hash",
    "struct_ops", "ringbuf", "inode_storage", "task_storage", "bloom_filter", "user_ringbuf",
    "cgrp_storage", "arena",
)  # fmt: skip


def map_type_name(number: int) -> str | None:
    return MAP_TYPES[number] if 0 <= number < len(MAP_TYPES) else None
