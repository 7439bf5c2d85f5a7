"""Bad objects give one InputError naming the file and the place, never another exception."""

from __future__ import annotations

import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from framework.errors import InputError
from framework.isa.decode import decode, iter_insns
from framework.isa.opcodes import Kind as IKind
from framework.load import LoadFailure, load_path, load_path_each
from framework.load.elf import load_bytes, load_object
from framework.load.elf_file import read_elf
from framework.load.program import Program


def _error(path: Path | str, data: bytes | None = None) -> str:
    with pytest.raises(InputError) as err:
        if data is None:
            load_object(str(path))
        else:
            load_bytes(str(path), data)
    text = str(err.value)
    assert text.startswith(str(path) + ":"), text
    assert "\n" not in text
    return text


def _rel_entries(data: bytes, section: str) -> tuple[int, int]:
    """(file offset of .rel<section>'s first entry, its entry count)."""
    elf = read_elf("x.o", data)
    rel = elf.by_name(".rel" + section)
    assert rel is not None
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    offset = struct.unpack_from("<Q", data, shoff + rel.index * 64 + 0x18)[0]
    return offset, len(rel.data) // 16


def test_truncated_file(features_o: Path) -> None:
    data = features_o.read_bytes()
    for size in (0, 10, 63, 64, 200, len(data) // 2, len(data) - 1):
        _error(features_o, data[:size])


def test_corrupt_section_headers(features_o: Path) -> None:
    data = bytearray(features_o.read_bytes())
    bad = bytearray(data)
    struct.pack_into("<Q", bad, 0x28, len(data) + 4096)  # e_shoff past the end
    _error(features_o, bytes(bad))
    bad = bytearray(data)
    struct.pack_into("<H", bad, 0x3E, 999)  # e_shstrndx
    _error(features_o, bytes(bad))
    bad = bytearray(data)
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    struct.pack_into("<Q", bad, shoff + 2 * 64 + 0x20, 1 << 40)  # a section's sh_size
    _error(features_o, bytes(bad))


def test_not_a_bpf_object(tmp_path: Path) -> None:
    true = shutil.which("true") or "/bin/true"
    if Path(true).exists():
        assert "not a BPF object" in _error(true)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert "not an ELF file" in _error(text)
    with pytest.raises(InputError, match=r"not an ELF object or a \.s"):
        load_path(str(text))
    assert "cannot read" in _error(tmp_path / "missing.o")


def test_big_endian_and_32_bit_rejected(features_o: Path) -> None:
    data = bytearray(features_o.read_bytes())
    data[5] = 2
    assert "little-endian" in _error(features_o, bytes(data))
    data[5], data[4] = 1, 1
    assert "64-bit" in _error(features_o, bytes(data))


def test_relocation_on_wrong_instruction(features_o: Path) -> None:
    data = bytearray(features_o.read_bytes())
    at, _ = _rel_entries(bytes(data), "tc")
    struct.pack_into("<Q", data, at, 0)  # insn 0 of prog is `r1 = 0`
    text = _error(features_o, bytes(data))
    assert ":tc:0x0:" in text and "not a call or ld_imm64" in text


def test_relocation_offset_out_of_range(features_o: Path) -> None:
    data = bytearray(features_o.read_bytes())
    at, _ = _rel_entries(bytes(data), "tc")
    struct.pack_into("<Q", data, at, 0x10000)
    assert "out of range" in _error(features_o, bytes(data))


def test_relocation_against_unknown_symbol(features_o: Path) -> None:
    data = bytearray(features_o.read_bytes())
    at, _ = _rel_entries(bytes(data), "tc")
    info = struct.unpack_from("<Q", data, at + 8)[0]
    struct.pack_into("<Q", data, at + 8, (99999 << 32) | (info & 0xFFFFFFFF))
    text = _error(features_o, bytes(data))
    assert ":tc:0x20:" in text and "unknown symbol" in text


def test_a_failing_program_fails_alone(compile_c: Callable[[str, str], Path]) -> None:
    """A kfunc the project lacks and two exception-callback tags each fail one program; the
    object's other programs load (the kernel, given each program alone, would judge each alone)."""
    obj = compile_c(
        """
#define SEC(name) __attribute__((section(name), used))
#define EXC(cb) __attribute__((btf_decl_tag("exception_callback:" #cb)))
extern int bpf_made_up(int x) __attribute__((section(".ksyms")));
__attribute__((noinline)) int cb(unsigned long long cookie) { return 1; }
__attribute__((noinline)) int cb2(unsigned long long cookie) { return 2; }
SEC("tc") int calls_made_up(void *ctx) { return bpf_made_up(3); }
SEC("?tc") EXC(cb) EXC(cb2) int two_tags(void *ctx) { return 0; }
SEC("tc") int fine(void *ctx) { return 0; }
""",
        "each",
    )
    items = load_path_each(str(obj))
    by_name = {item.name: item for item in items}
    assert set(by_name) == {"calls_made_up", "two_tags", "fine"}
    failed = by_name["two_tags"]
    assert isinstance(failed, LoadFailure)
    assert str(failed.error).startswith(f"{obj}:?tc:0x0: ")
    assert "multiple exception callback tags" in str(failed.error)
    made_up, fine = by_name["calls_made_up"], by_name["fine"]
    assert isinstance(made_up, Program) and isinstance(fine, Program)
    assert made_up.kfuncs == ("bpf_made_up",) and made_up.prog_type == "sched_cls"
    with pytest.raises(InputError, match="multiple exception callback tags"):
        load_path(str(obj))  # the strict form: the first failure is the object's


def test_static_program_and_unknown_section(compile_c: Callable[[str, str], Path]) -> None:
    obj = compile_c(
        """
#define SEC(name) __attribute__((section(name), used))
SEC("tc") static int p(void *ctx) { return 0; }
""",
        "static",
    )
    assert "program 'p' is static and not supported" in _error(obj)
    obj = compile_c(
        """
#define SEC(name) __attribute__((section(name), used))
SEC("nonsense") int p(void *ctx) { return 0; }
""",
        "nonsense",
    )
    assert "unknown program section 'nonsense'" in _error(obj)


def test_exception_callback_must_be_global(compile_c: Callable[[str, str], Path]) -> None:
    obj = compile_c(
        """
#define SEC(name) __attribute__((section(name), used))
static __attribute__((noinline)) int cb(unsigned long long c) { return c; }
SEC("tc") __attribute__((btf_decl_tag("exception_callback:cb"))) int p(void *ctx) { return cb((long)ctx); }
""",
        "staticcb",
    )
    assert "must be a global non-hidden function" in _error(obj)
    obj = compile_c(
        """
#define SEC(name) __attribute__((section(name), used))
SEC("tc") __attribute__((btf_decl_tag("exception_callback:nowhere"))) int p(void *ctx) { return 0; }
""",
        "nocb",
    )
    assert "cannot find exception callback 'nowhere'" in _error(obj)


def test_undecodable_instruction(features_o: Path) -> None:
    data = bytearray(features_o.read_bytes())
    elf = read_elf("x.o", bytes(data))
    xdp = elf.by_name("xdp")
    assert xdp is not None
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    body = struct.unpack_from("<Q", data, shoff + xdp.index * 64 + 0x18)[0]
    data[body + 8] = 0xFF  # opcode of insn 1
    assert ":xdp:0x8:" in _error(features_o, bytes(data))


def test_register_above_r10(features_o: Path) -> None:
    """A register field naming r11-r15 (only r0-r10 exist) is refused where it sits: file:section:offset."""
    data = bytearray(features_o.read_bytes())
    elf = read_elf("x.o", bytes(data))
    xdp = elf.by_name("xdp")
    assert xdp is not None
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    body = struct.unpack_from("<Q", data, shoff + xdp.index * 64 + 0x18)[0]
    pc = next(pc for pc, insn in iter_insns(decode(xdp.data)) if insn.dst in insn.registers)
    data[body + 8 * pc + 1] = (data[body + 8 * pc + 1] & 0xF0) | 12  # its dst register: r12
    text = _error(features_o, bytes(data))
    assert f":xdp:{8 * pc:#x}:" in text and f"insn {pc}: register r12 is invalid" in text, text


_MUTATION = st.one_of(
    st.tuples(st.just("truncate"), st.integers(0, 1 << 16), st.just(0)),
    st.tuples(st.just("byte"), st.integers(0, 1 << 16), st.integers(0, 255)),
    st.tuples(st.just("word"), st.integers(0, 1 << 16), st.integers(0, (1 << 32) - 1)),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutations=st.lists(_MUTATION, min_size=1, max_size=4))
def test_mutated_objects_load_or_raise_input_error(features_o: Path, mutations: list[tuple[str, int, int]]) -> None:
    data = bytearray(features_o.read_bytes())
    for kind, where, value in mutations:
        if not data:
            break
        where %= len(data)
        if kind == "truncate":
            del data[where:]
        elif kind == "byte":
            data[where] = value
        elif where + 4 <= len(data):
            struct.pack_into("<I", data, where, value)
    try:
        programs = load_bytes("m.o", bytes(data))
    except InputError as exc:
        assert str(exc).startswith("m.o:")
        return
    for prog in programs:
        assert all(insn.kind in IKind for _, insn in prog.insns())


def _hot_regions(data: bytes) -> list[tuple[int, int]]:
    """(start, size) of the bytes the loader reads: ELF header, section headers and loader sections."""
    elf = read_elf("x.o", data)
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    regions = [(0, 64), (shoff, len(elf.sections) * 64)]
    for sec in elf.sections:
        if sec.name.startswith((".BTF", ".rel", ".maps", ".symtab", ".strtab", "tc", "xdp", ".text", ".data")):
            offset = struct.unpack_from("<Q", data, shoff + sec.index * 64 + 0x18)[0]
            if sec.data:
                regions.append((offset, len(sec.data)))
    return regions


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(picks=st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 1 << 20), st.integers(0, 255)), max_size=6))
def test_mutated_loader_sections_load_or_raise_input_error(features_o: Path, picks: list[tuple[int, int, int]]) -> None:
    data = bytearray(features_o.read_bytes())
    regions = _hot_regions(bytes(data))
    for region, at, value in picks:
        start, size = regions[region % len(regions)]
        data[start + at % size] = value
    try:
        load_bytes("m.o", bytes(data))
    except InputError as exc:
        assert str(exc).startswith("m.o:")
