"""Helper prototypes as the kernel declares them: one `struct bpf_func_proto` per row.

Each `FuncProto` is a helper's argument types and return type in the kernel's own spelling
(`ARG_PTR_TO_MEM | MEM_RDONLY`, `ARG_CONST_SIZE_OR_ZERO`, `RET_INTEGER`), the map types
`check_map_func_compatibility` lets it take, whether it changes packet data
(`bpf_helper_changes_pkt_data`), and the kernel symbol that defines it. The verifier checks a
call to any helper here from its row (framework.verify.helper_args.check_proto_args); helpers
whose checks are more than their arguments (references, callbacks, dynptrs, locks, map-value
returns) are written out in framework.verify.calls. Which program types may call a helper at
all is the live kernel's answer (framework.platform.helper_types).

Where a program type's `get_func_proto` hands out a different prototype under the same id with
different argument types, `prog_types` names the types this row is for; a call from another
type is `unsupported`, naming the helper.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ARG_TYPES", "HELPER_PROTOS", "Arg", "FuncProto", "proto_for"]

# enum bpf_arg_type bases the table uses, and the type flags (include/linux/bpf.h)
ARG_TYPES = frozenset(
    {
        "ARG_ANYTHING",
        "ARG_PTR_TO_CTX",
        "ARG_CONST_MAP_PTR",
        "ARG_PTR_TO_MAP_KEY",
        "ARG_PTR_TO_MAP_VALUE",
        "ARG_PTR_TO_MEM",
        "ARG_PTR_TO_UNINIT_MEM",
        "ARG_CONST_SIZE",
        "ARG_CONST_SIZE_OR_ZERO",
        "ARG_PTR_TO_BTF_ID_SOCK_COMMON",
    }
)
_FLAGS = frozenset({"MEM_RDONLY", "PTR_MAYBE_NULL", "MEM_UNINIT", "MEM_WRITE"})
RET_TYPES = frozenset({"RET_INTEGER", "RET_VOID"})


@dataclass(frozen=True, slots=True)
class Arg:
    """One argument: its base type and flags, parsed from the kernel's spelling."""

    base: str
    flags: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str) -> Arg:
        base, *flags = (part.strip() for part in text.split("|"))
        if base not in ARG_TYPES or not set(flags) <= _FLAGS:
            raise ValueError(f"argument type {text!r}: not one the table knows")
        return cls(base, frozenset(flags))

    @property
    def is_mem(self) -> bool:
        return self.base in ("ARG_PTR_TO_MEM", "ARG_PTR_TO_UNINIT_MEM")

    @property
    def uninit(self) -> bool:  # written by the helper, so it need not be initialised
        return self.base == "ARG_PTR_TO_UNINIT_MEM" or "MEM_UNINIT" in self.flags

    @property
    def is_size(self) -> bool:
        return self.base in ("ARG_CONST_SIZE", "ARG_CONST_SIZE_OR_ZERO")


@dataclass(frozen=True, slots=True)
class FuncProto:
    func_id: int
    name: str  # bpf_<name>, as the log names the helper
    kernel: str  # the bpf_func_proto (file) that defines the row
    args: tuple[Arg, ...]
    ret: str = "RET_INTEGER"
    map_types: frozenset[str] = frozenset()  # check_map_func_compatibility (empty: no map argument)
    changes_pkt_data: bool = False  # bpf_helper_changes_pkt_data: every packet pointer is invalidated
    prog_types: frozenset[str] | None = None  # the types whose get_func_proto gives this row (None: all)
    # the map types the project models for the helper where they are fewer than the kernel allows
    # (another is `unsupported`); None: every map `map_types` admits
    modelled_maps: frozenset[str] | None = None
    records_map: bool = False  # record_func_map: the map reaching the call is kept for the fixups

    def __post_init__(self) -> None:
        if self.ret not in RET_TYPES:
            raise ValueError(f"{self.name}: return type {self.ret!r}")
        for i, a in enumerate(self.args):  # a size argument bounds the memory argument before it
            if a.is_size and (i == 0 or not self.args[i - 1].is_mem):
                raise ValueError(f"{self.name}: R{i + 1} is a size with no memory before it")


def _p(
    func_id: int,
    name: str,
    kernel: str,
    *args: str,
    ret: str = "RET_INTEGER",
    maps: tuple[str, ...] = (),
    pkt: bool = False,
    types: tuple[str, ...] | None = None,
    modelled_maps: tuple[str, ...] | None = None,
    records_map: bool = False,
) -> FuncProto:
    return FuncProto(
        func_id,
        name,
        kernel,
        tuple(Arg.parse(a) for a in args),
        ret,
        frozenset(maps),
        pkt,
        frozenset(types) if types is not None else None,
        frozenset(modelled_maps) if modelled_maps is not None else None,
        records_map,
    )


# map types whose update and delete the project models (check_map_func_compatibility allows these
# from any program type; sockmaps, program arrays and the rest have rules of their own)
_PLAIN_DATA_MAPS = ("hash", "array", "percpu_hash", "percpu_array", "lru_hash", "lru_percpu_hash", "lpm_trie")


_HELPERS = "kernel/bpf/helpers.c"
_TRACE = "kernel/trace/bpf_trace.c"
_FILTER = "net/core/filter.c"
_MEM_RO = "ARG_PTR_TO_MEM | MEM_RDONLY"
_MEM_RO_NULL = "ARG_PTR_TO_MEM | PTR_MAYBE_NULL | MEM_RDONLY"
_REDIRECT_MAPS = ("devmap", "devmap_hash", "cpumap", "xskmap")
_STACKID_TYPES = ("kprobe", "tracepoint", "perf_event", "raw_tracepoint")

# fmt: off
_TABLE: tuple[FuncProto, ...] = (
    _p(2, "bpf_map_update_elem", f"bpf_map_update_elem_proto ({_HELPERS})",
       "ARG_CONST_MAP_PTR", "ARG_PTR_TO_MAP_KEY", "ARG_PTR_TO_MAP_VALUE", "ARG_ANYTHING",
       modelled_maps=_PLAIN_DATA_MAPS, records_map=True),
    _p(3, "bpf_map_delete_elem", f"bpf_map_delete_elem_proto ({_HELPERS})",
       "ARG_CONST_MAP_PTR", "ARG_PTR_TO_MAP_KEY", modelled_maps=_PLAIN_DATA_MAPS, records_map=True),
    _p(4, "bpf_probe_read", f"bpf_probe_read_compat_proto ({_TRACE})",
       "ARG_PTR_TO_UNINIT_MEM", "ARG_CONST_SIZE_OR_ZERO", "ARG_ANYTHING"),
    _p(5, "bpf_ktime_get_ns", f"bpf_ktime_get_ns_proto ({_HELPERS})"),
    _p(6, "bpf_trace_printk", f"bpf_trace_printk_proto ({_TRACE}: R3-R5 unchecked)", _MEM_RO, "ARG_CONST_SIZE"),
    _p(7, "bpf_get_prandom_u32", f"bpf_get_prandom_u32_proto ({_HELPERS})"),
    _p(8, "bpf_get_smp_processor_id", f"bpf_get_raw_smp_processor_id_proto ({_HELPERS})"),
    _p(14, "bpf_get_current_pid_tgid", f"bpf_get_current_pid_tgid_proto ({_HELPERS})"),
    _p(15, "bpf_get_current_uid_gid", f"bpf_get_current_uid_gid_proto ({_HELPERS})"),
    _p(16, "bpf_get_current_comm", f"bpf_get_current_comm_proto ({_HELPERS})",
       "ARG_PTR_TO_UNINIT_MEM", "ARG_CONST_SIZE"),
    _p(22, "bpf_perf_event_read", f"bpf_perf_event_read_proto ({_TRACE})",
       "ARG_CONST_MAP_PTR", "ARG_ANYTHING", maps=("perf_event_array",)),
    _p(23, "bpf_redirect", f"bpf_redirect_proto, bpf_xdp_redirect_proto ({_FILTER})", "ARG_ANYTHING", "ARG_ANYTHING"),
    _p(25, "bpf_perf_event_output",
       f"bpf_perf_event_output_proto ({_TRACE}), bpf_skb_event_output_proto, bpf_xdp_event_output_proto ({_FILTER})",
       "ARG_PTR_TO_CTX", "ARG_CONST_MAP_PTR", "ARG_ANYTHING", _MEM_RO, "ARG_CONST_SIZE_OR_ZERO",
       maps=("perf_event_array",)),
    _p(26, "bpf_skb_load_bytes", f"bpf_skb_load_bytes_proto ({_FILTER})",
       "ARG_PTR_TO_CTX", "ARG_ANYTHING", "ARG_PTR_TO_UNINIT_MEM", "ARG_CONST_SIZE"),
    _p(27, "bpf_get_stackid", "bpf_get_stackid_proto (kernel/bpf/stackmap.c)",
       "ARG_PTR_TO_CTX", "ARG_CONST_MAP_PTR", "ARG_ANYTHING", maps=("stack_trace",), types=_STACKID_TYPES),
    _p(28, "bpf_csum_diff", f"bpf_csum_diff_proto ({_FILTER})",
       _MEM_RO_NULL, "ARG_CONST_SIZE_OR_ZERO", _MEM_RO_NULL, "ARG_CONST_SIZE_OR_ZERO", "ARG_ANYTHING"),
    _p(37, "bpf_current_task_under_cgroup", f"bpf_current_task_under_cgroup_proto ({_TRACE})",
       "ARG_CONST_MAP_PTR", "ARG_ANYTHING", maps=("cgroup_array",)),
    _p(44, "bpf_xdp_adjust_head", f"bpf_xdp_adjust_head_proto ({_FILTER})",
       "ARG_PTR_TO_CTX", "ARG_ANYTHING", pkt=True),
    _p(49, "bpf_setsockopt", f"bpf_sock_ops_setsockopt_proto ({_FILTER})",
       "ARG_PTR_TO_CTX", "ARG_ANYTHING", "ARG_ANYTHING", _MEM_RO, "ARG_CONST_SIZE", types=("sock_ops",)),
    _p(50, "bpf_skb_adjust_room", f"bpf_skb_adjust_room_proto ({_FILTER})",
       "ARG_PTR_TO_CTX", "ARG_ANYTHING", "ARG_ANYTHING", "ARG_ANYTHING", pkt=True),
    _p(51, "bpf_redirect_map", f"bpf_xdp_redirect_map_proto ({_FILTER})",
       "ARG_CONST_MAP_PTR", "ARG_ANYTHING", "ARG_ANYTHING", maps=_REDIRECT_MAPS),
    _p(53, "bpf_sock_map_update", "bpf_sock_map_update_proto (net/core/sock_map.c)",
       "ARG_PTR_TO_CTX", "ARG_CONST_MAP_PTR", "ARG_PTR_TO_MAP_KEY", "ARG_ANYTHING", maps=("sockmap",)),
    _p(55, "bpf_perf_event_read_value", f"bpf_perf_event_read_value_proto ({_TRACE})",
       "ARG_CONST_MAP_PTR", "ARG_ANYTHING", "ARG_PTR_TO_UNINIT_MEM", "ARG_CONST_SIZE",
       maps=("perf_event_array",)),
    _p(56, "bpf_perf_prog_read_value", f"bpf_perf_prog_read_value_proto ({_TRACE})",
       "ARG_PTR_TO_CTX", "ARG_PTR_TO_UNINIT_MEM", "ARG_CONST_SIZE"),
    _p(57, "bpf_getsockopt", f"bpf_sock_ops_getsockopt_proto ({_FILTER})",
       "ARG_PTR_TO_CTX", "ARG_ANYTHING", "ARG_ANYTHING", "ARG_PTR_TO_UNINIT_MEM", "ARG_CONST_SIZE",
       types=("sock_ops",)),
    _p(65, "bpf_xdp_adjust_tail", f"bpf_xdp_adjust_tail_proto ({_FILTER})",
       "ARG_PTR_TO_CTX", "ARG_ANYTHING", pkt=True),
    _p(69, "bpf_fib_lookup", f"bpf_xdp_fib_lookup_proto, bpf_skb_fib_lookup_proto ({_FILTER})",
       "ARG_PTR_TO_CTX", "ARG_PTR_TO_MEM", "ARG_CONST_SIZE", "ARG_ANYTHING"),
    _p(113, "bpf_probe_read_kernel", f"bpf_probe_read_kernel_proto ({_TRACE})",
       "ARG_PTR_TO_UNINIT_MEM", "ARG_CONST_SIZE_OR_ZERO", "ARG_ANYTHING"),
    _p(9, "bpf_skb_store_bytes", f"bpf_skb_store_bytes_proto ({_FILTER})",
       "ARG_PTR_TO_CTX", "ARG_ANYTHING", _MEM_RO, "ARG_CONST_SIZE", "ARG_ANYTHING", pkt=True),
    _p(10, "bpf_l3_csum_replace", f"bpf_l3_csum_replace_proto ({_FILTER})",
       "ARG_PTR_TO_CTX", "ARG_ANYTHING", "ARG_ANYTHING", "ARG_ANYTHING", "ARG_ANYTHING", pkt=True),
    _p(11, "bpf_l4_csum_replace", f"bpf_l4_csum_replace_proto ({_FILTER})",
       "ARG_PTR_TO_CTX", "ARG_ANYTHING", "ARG_ANYTHING", "ARG_ANYTHING", "ARG_ANYTHING", pkt=True),
    _p(35, "bpf_get_current_task", f"bpf_get_current_task_proto ({_TRACE})"),
    _p(39, "bpf_skb_pull_data", f"bpf_skb_pull_data_proto ({_FILTER})", "ARG_PTR_TO_CTX", "ARG_ANYTHING", pkt=True),
    _p(45, "bpf_probe_read_str", f"bpf_probe_read_compat_str_proto ({_TRACE})",
       "ARG_PTR_TO_UNINIT_MEM", "ARG_CONST_SIZE_OR_ZERO", "ARG_ANYTHING"),
    _p(115, "bpf_probe_read_kernel_str", f"bpf_probe_read_kernel_str_proto ({_TRACE})",
       "ARG_PTR_TO_UNINIT_MEM", "ARG_CONST_SIZE_OR_ZERO", "ARG_ANYTHING"),
    _p(59, "bpf_sock_ops_cb_flags_set", f"bpf_sock_ops_cb_flags_set_proto ({_FILTER})",
       "ARG_PTR_TO_CTX", "ARG_ANYTHING", types=("sock_ops",)),
    _p(130, "bpf_ringbuf_output", "bpf_ringbuf_output_proto (kernel/bpf/ringbuf.c)",
       "ARG_CONST_MAP_PTR", _MEM_RO, "ARG_CONST_SIZE_OR_ZERO", "ARG_ANYTHING", maps=("ringbuf",)),
    _p(152, "bpf_redirect_neigh", f"bpf_redirect_neigh_proto ({_FILTER})",
       "ARG_ANYTHING", _MEM_RO_NULL, "ARG_CONST_SIZE_OR_ZERO", "ARG_ANYTHING"),
    _p(155, "bpf_redirect_peer", f"bpf_redirect_peer_proto ({_FILTER})", "ARG_ANYTHING", "ARG_ANYTHING"),
    _p(18, "bpf_skb_vlan_push", f"bpf_skb_vlan_push_proto ({_FILTER})",
       "ARG_PTR_TO_CTX", "ARG_ANYTHING", "ARG_ANYTHING", pkt=True),
    _p(20, "bpf_skb_get_tunnel_key", f"bpf_skb_get_tunnel_key_proto ({_FILTER})",
       "ARG_PTR_TO_CTX", "ARG_PTR_TO_UNINIT_MEM", "ARG_CONST_SIZE", "ARG_ANYTHING"),
    _p(31, "bpf_skb_change_proto", f"bpf_skb_change_proto_proto ({_FILTER})",
       "ARG_PTR_TO_CTX", "ARG_ANYTHING", "ARG_ANYTHING", pkt=True),
    _p(32, "bpf_skb_change_type", f"bpf_skb_change_type_proto ({_FILTER})", "ARG_PTR_TO_CTX", "ARG_ANYTHING"),
    _p(33, "bpf_skb_under_cgroup", f"bpf_skb_under_cgroup_proto ({_FILTER})",
       "ARG_PTR_TO_CTX", "ARG_CONST_MAP_PTR", "ARG_ANYTHING", maps=("cgroup_array",)),
    _p(42, "bpf_get_numa_node_id", f"bpf_get_numa_node_id_proto ({_HELPERS})"),
    _p(80, "bpf_get_current_cgroup_id", f"bpf_get_current_cgroup_id_proto ({_HELPERS})"),
    _p(125, "bpf_ktime_get_boot_ns", f"bpf_ktime_get_boot_ns_proto ({_HELPERS})"),
    _p(160, "bpf_ktime_get_coarse_ns", f"bpf_ktime_get_coarse_ns_proto ({_HELPERS})"),
    _p(208, "bpf_ktime_get_tai_ns", f"bpf_ktime_get_tai_ns_proto ({_HELPERS})"),
    _p(19, "bpf_skb_vlan_pop", f"bpf_skb_vlan_pop_proto ({_FILTER})", "ARG_PTR_TO_CTX", pkt=True),
    _p(24, "bpf_get_route_realm", f"bpf_get_route_realm_proto ({_FILTER})", "ARG_PTR_TO_CTX"),
    _p(41, "bpf_set_hash_invalid", f"bpf_set_hash_invalid_proto ({_FILTER})", "ARG_PTR_TO_CTX"),
    _p(68, "bpf_skb_load_bytes_relative", f"bpf_skb_load_bytes_relative_proto ({_FILTER})",
       "ARG_PTR_TO_CTX", "ARG_ANYTHING", "ARG_PTR_TO_UNINIT_MEM", "ARG_CONST_SIZE", "ARG_ANYTHING"),
    _p(48, "bpf_set_hash", f"bpf_set_hash_proto ({_FILTER})", "ARG_PTR_TO_CTX", "ARG_ANYTHING"),
    _p(118, "bpf_jiffies64", f"bpf_jiffies64_proto ({_HELPERS})"),
    _p(34, "bpf_get_hash_recalc", f"bpf_get_hash_recalc_proto ({_FILTER})", "ARG_PTR_TO_CTX"),
    _p(46, "bpf_get_socket_cookie",
       f"bpf_get_socket_cookie_proto and its _sock, _sock_addr, _sock_ops forms ({_FILTER})", "ARG_PTR_TO_CTX",
       types=("socket_filter", "sched_cls", "sched_act", "cgroup_skb", "sk_skb", "cgroup_sock", "sock_ops",
              "cgroup_sock_addr")),  # sk_reuseport and syscall: bpf_get_socket_ptr_cookie_proto (a BTF socket)
    _p(122, "bpf_get_netns_cookie",
       f"bpf_get_netns_cookie_proto and its _sock, _sock_addr, _sock_ops, _sk_msg, _sockopt forms ({_FILTER})",
       "ARG_PTR_TO_CTX | PTR_MAYBE_NULL"),
    _p(21, "bpf_skb_set_tunnel_key", f"bpf_skb_set_tunnel_key_proto ({_FILTER})",
       "ARG_PTR_TO_CTX", _MEM_RO, "ARG_CONST_SIZE", "ARG_ANYTHING"),
    _p(13, "bpf_clone_redirect", f"bpf_clone_redirect_proto ({_FILTER})",
       "ARG_PTR_TO_CTX", "ARG_ANYTHING", "ARG_ANYTHING", pkt=True),
    _p(38, "bpf_skb_change_tail", f"bpf_skb_change_tail_proto, sk_skb_change_tail_proto ({_FILTER})",
       "ARG_PTR_TO_CTX", "ARG_ANYTHING", "ARG_ANYTHING", pkt=True),
    _p(43, "bpf_skb_change_head", f"bpf_skb_change_head_proto, sk_skb_change_head_proto ({_FILTER})",
       "ARG_PTR_TO_CTX", "ARG_ANYTHING", "ARG_ANYTHING", pkt=True),
    _p(124, "bpf_sk_assign", f"bpf_tc_sk_assign_proto ({_FILTER})",
       "ARG_PTR_TO_CTX", "ARG_PTR_TO_BTF_ID_SOCK_COMMON", "ARG_ANYTHING", types=("sched_cls", "sched_act")),
    _p(134, "bpf_ringbuf_query", "bpf_ringbuf_query_proto (kernel/bpf/ringbuf.c)",
       "ARG_CONST_MAP_PTR", "ARG_ANYTHING", maps=("ringbuf",)),
)
# fmt: on

HELPER_PROTOS: dict[int, FuncProto] = {p.func_id: p for p in _TABLE}
assert len(HELPER_PROTOS) == len(_TABLE), "one row per helper id"


def proto_for(func_id: int) -> FuncProto | None:
    """The table's row for `func_id` (None: not in the table)."""
    return HELPER_PROTOS.get(func_id)
