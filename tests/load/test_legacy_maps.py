"""Legacy `maps` sections (`struct bpf_map_def`, libbpf before 1.0), read as libbpf 0.8 read them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from framework.errors import InputError
from framework.isa import opcodes as op
from framework.load import load_path
from framework.verify import verify

LEGACY = """
#define SEC(name) __attribute__((section(name), used))
struct bpf_map_def { unsigned int type, key_size, value_size, max_entries, map_flags; };
struct bpf_map_def SEC("maps") counts = { .type = 2, .key_size = 4, .value_size = 8, .max_entries = 16 };
struct bpf_map_def SEC("maps") flows = { .type = 1, .key_size = 4, .value_size = 4, .max_entries = 1024,
                                         .map_flags = 1 };
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
SEC("socket") int count(void *ctx) {
    int key = 3;
    long *v = bpf_map_lookup_elem(&counts, &key);
    if (!v) return 0;
    return *v + (bpf_map_lookup_elem(&flows, &key) != 0);
}
char _license[] SEC("license") = "GPL";
"""


def test_legacy_maps_are_maps(compile_c: Callable[[str, str], Path]) -> None:
    (program,) = load_path(str(compile_c(LEGACY, "legacy")))
    by_name = {m.name: m for m in program.maps}
    counts, flows = by_name["counts"], by_name["flows"]
    assert (counts.map_type, counts.key_size, counts.value_size, counts.max_entries) == ("array", 4, 8, 16)
    assert (flows.map_type, flows.key_size, flows.max_entries, flows.flags) == ("hash", 4, 1024, 1)
    refs = [insn.imm for _, insn in program.insns() if insn.src == op.PSEUDO_MAP_IDX]
    assert sorted(program.maps[i].name for i in refs) == ["counts", "flows"]
    analysis = verify(program)
    assert analysis.accepted, analysis.message


def test_nonzero_unknown_options_are_refused(compile_c: Callable[[str, str], Path]) -> None:
    source = LEGACY.replace("map_flags; };", "map_flags, extra; };").replace(
        ".max_entries = 16 }", ".max_entries = 16, .extra = 9 }"
    )
    with pytest.raises(InputError, match="map 'counts' has unrecognized, non-zero options"):
        load_path(str(compile_c(source, "extra")))
