"""Legacy `maps` sections (`struct bpf_map_def`, libbpf before 1.0), read as libbpf 0.8 read them."""

from __future__ import annotations

import struct
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


def _untype_functions(data: bytes) -> bytes:
    """The object as clang before typed function symbols wrote it: every STT_FUNC made STT_NOTYPE."""
    out = bytearray(data)
    shoff, shnum = struct.unpack_from("<Q", data, 0x28)[0], struct.unpack_from("<H", data, 0x3C)[0]
    for i in range(shnum):
        header = shoff + i * 64
        if struct.unpack_from("<I", data, header + 4)[0] != 2:  # SHT_SYMTAB
            continue
        offset, size = struct.unpack_from("<QQ", data, header + 0x18)
        for sym in range(offset, offset + size, 24):
            if out[sym + 4] & 0xF == 2:  # st_info: STT_FUNC
                out[sym + 4] &= 0xF0
    return bytes(out)


def test_an_untyped_program_section_is_one_program(compile_c: Callable[[str, str], Path], tmp_path: Path) -> None:
    old = tmp_path / "old.o"
    old.write_bytes(_untype_functions(compile_c(LEGACY, "legacy").read_bytes()))
    (program,) = load_path(str(old))
    assert (program.name, program.section, program.prog_type) == ("count", "socket", "socket_filter")
    assert verify(program).accepted
