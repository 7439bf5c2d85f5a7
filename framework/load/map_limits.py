"""What map creation refuses: the sizes Linux 6.18's map_create and the map types' alloc checks allow.

A map the kernel would not create is bad input at load, with the kernel's reason, before the
emulated kernel tries to hold it.
"""

from __future__ import annotations

from framework.load.btf import Btf, Kind
from framework.load.program import MapDef

U32_MAX = (1 << 32) - 1  # union bpf_attr: key_size, value_size, max_entries and map_flags are __u32
INT_MAX = (1 << 31) - 1
KMALLOC_MAX_SIZE = 1 << 22  # x86-64 SLUB: KMALLOC_SHIFT_MAX = MAX_PAGE_ORDER (10) + PAGE_SHIFT (12)
HTAB_ELEM_SIZE = 48  # sizeof(struct htab_elem) on x86-64, before its key
PCPU_MIN_UNIT_SIZE = 32 << 10  # include/linux/percpu.h
PAGE_SIZE = 4096
EMULATED_MAP_MAX = 1 << 28  # the emulated kernel holds at most 256 MiB of one map's values (its own limit)

_ARRAYS = ("array", "percpu_array", "cgroup_array", "prog_array", "perf_event_array")
_HASHES = ("hash", "lru_hash", "percpu_hash", "lru_percpu_hash")
_PERCPU = ("percpu_array", "percpu_hash", "lru_percpu_hash")


def _round8(n: int) -> int:
    return (n + 7) // 8 * 8


def _sizes(m: MapDef) -> str:
    return f"key {m.key_size}, value {m.value_size}, max_entries {m.max_entries}"


def map_refusal(m: MapDef) -> str | None:
    """Why the kernel would refuse to create `m` (its errno and check), or None."""
    for field, value in (("key_size", m.key_size), ("value_size", m.value_size), ("max_entries", m.max_entries)):
        if not 0 <= value <= U32_MAX:
            return f"{field} {value} does not fit bpf_attr's __u32 (EINVAL)"  # kernel: union bpf_attr (map_create)
    if not 0 <= m.flags <= U32_MAX:
        return f"map_flags {m.flags} does not fit bpf_attr's __u32 (EINVAL)"
    t = m.map_type
    if t in _ARRAYS:
        if m.max_entries == 0 or m.key_size != 4 or m.value_size == 0:
            # kernel: array_map_alloc_check / fd_array_map_alloc_check
            return f"an array map needs key_size 4, value_size > 0 and max_entries > 0 ({_sizes(m)}): EINVAL"
        if m.value_size > INT_MAX:
            return f"value_size {m.value_size} > INT_MAX: E2BIG"  # kernel: array_map_alloc_check
        if t in _PERCPU and _round8(m.value_size) > PCPU_MIN_UNIT_SIZE:
            return f"per-cpu value_size {m.value_size} > PCPU_MIN_UNIT_SIZE: E2BIG"  # kernel: array_map_alloc_check
        if _round8(m.value_size) * m.max_entries > EMULATED_MAP_MAX:
            size = _round8(m.value_size) * m.max_entries
            return f"{size} bytes of values: more than the emulated kernel holds (ENOMEM)"
    elif t in _HASHES:
        if m.max_entries == 0 or m.key_size == 0 or m.value_size == 0:
            # kernel: htab_map_alloc_check
            return f"a hash map needs key_size, value_size and max_entries > 0 ({_sizes(m)}): EINVAL"
        if m.key_size + m.value_size >= KMALLOC_MAX_SIZE - HTAB_ELEM_SIZE:
            # kernel: htab_map_alloc_check (key_size + value_size >= KMALLOC_MAX_SIZE - sizeof(struct htab_elem))
            return f"key_size {m.key_size} + value_size {m.value_size} is too big for an element: E2BIG"
        if t in _PERCPU and _round8(m.value_size) > PCPU_MIN_UNIT_SIZE:
            return f"per-cpu value_size {m.value_size} > PCPU_MIN_UNIT_SIZE: E2BIG"  # kernel: htab_map_alloc_check
    elif t == "ringbuf":
        n = m.max_entries
        if m.key_size or m.value_size or not n or n & (n - 1) or n % PAGE_SIZE:
            # kernel: ringbuf_map_alloc (key_size || value_size || !is_power_of_2 || !PAGE_ALIGNED)
            return f"a ring buffer needs key and value size 0, max_entries a power of 2 of pages ({_sizes(m)}): EINVAL"
        if m.max_entries > EMULATED_MAP_MAX:
            return f"{m.max_entries} bytes of ring: more than the emulated kernel holds (ENOMEM)"
    return None


# kernel: map_check_btf, a BPF_TIMER field: only these maps may hold one (others: EOPNOTSUPP)
TIMER_MAP_TYPES = ("array", "hash", "lru_hash")


def _timers(btf: Btf, type_id: int, level: int = 0) -> int:
    """How many struct bpf_timer a struct holds, nested structs searched (btf_find_nested_struct)."""
    count = 0
    for member in btf.type(btf.skip_mods(type_id)).members():
        t = btf.type(btf.skip_mods(member.type))
        if t.kind is Kind.STRUCT and btf.string(t.name_off) == "bpf_timer":
            count += 1
        elif t.kind is Kind.STRUCT and level + 1 < 32:  # MAX_RESOLVE_DEPTH
            count += _timers(btf, member.type, level + 1)
    return count


def value_field_refusal(m: MapDef, btf: Btf) -> str | None:
    """Why the kernel would refuse `m` for a special field in its value's BTF (map_check_btf), or None."""
    if not m.btf_value_type_id or m.map_type in TIMER_MAP_TYPES:
        return None
    if btf.type(btf.skip_mods(m.btf_value_type_id)).kind is not Kind.STRUCT:
        return None
    # two timers fail btf_parse_fields (-E2BIG): the map has no record, so nothing is checked
    if _timers(btf, m.btf_value_type_id) == 1:
        return f"a struct bpf_timer in a {m.map_type} map's value: EOPNOTSUPP (map_check_btf)"
    return None
