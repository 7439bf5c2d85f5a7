"""framework.load.btf on clang's output, on vmlinux, and on damaged input."""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from framework.errors import InputError
from framework.load.btf import FUNC_GLOBAL, FUNC_STATIC, Kind, make_type, parse_btf
from framework.load.btf_ext import parse_btf_ext

VMLINUX = "/sys/kernel/btf/vmlinux"
CORPUS_C = Path(__file__).resolve().parents[2] / "programs" / "c"


def _btf_of(path: Path) -> bytes:
    with open(path, "rb") as fh:
        sec = ELFFile(fh).get_section_by_name(".BTF")
        assert sec is not None
        return bytes(sec.data())


def test_round_trip_on_clang_output(features_o: Path) -> None:
    raw = _btf_of(features_o)
    btf = parse_btf(raw, source=str(features_o))
    assert btf.encode() == raw


def test_round_trip_on_corpus(compile_c: Callable[[str, str], Path]) -> None:
    sources = sorted(CORPUS_C.glob("*.bpf.c"))
    if not sources:
        pytest.skip("no corpus sources")
    include = CORPUS_C.parent / "include"
    for src in sources:
        text = src.read_text().replace('#include "bakeoff.h"', f'#include "{include}/bakeoff.h"')
        try:
            obj = compile_c(text, src.name.split(".")[0])
        except Exception:  # the corpus may need headers this machine lacks
            continue
        raw = _btf_of(obj)
        assert parse_btf(raw).encode() == raw, src.name


def test_kinds_names_and_lookups(features_o: Path) -> None:
    btf = parse_btf(_btf_of(features_o))
    assert btf.types[0].kind is Kind.UNKN
    prog = btf.find("prog", Kind.FUNC)
    glob = btf.find("glob", Kind.FUNC)
    mid = btf.find("mid", Kind.FUNC)
    assert prog and glob and mid
    assert btf.type(glob).linkage == FUNC_GLOBAL
    assert btf.type(mid).linkage == FUNC_STATIC
    proto = btf.type(btf.type(glob).type)
    assert proto.kind is Kind.FUNC_PROTO
    assert [btf.string(p.name_off) for p in proto.params()] == ["x"]
    assert btf.size(proto.params()[0].type) == 4
    node = btf.find("node", Kind.STRUCT)
    assert node is not None
    assert btf.size(node) == 16
    assert [btf.string(m.name_off) for m in btf.type(node).members()] == ["key", "value"]
    assert [m.bit_offset for m in btf.type(node).members()] == [0, 64]
    # the const volatile int behind grodata resolves to int
    var = btf.find("grodata", Kind.VAR)
    assert var is not None
    assert btf.kind(btf.resolve(btf.type(var).type)) is Kind.INT
    datasec = btf.find(".maps", Kind.DATASEC)
    assert datasec is not None
    assert [btf.name(s.type) for s in btf.type(datasec).secinfos()] == ["counts", "events"]
    assert btf.find("nope", Kind.STRUCT) is None


def test_decl_tags(features_o: Path) -> None:
    btf = parse_btf(_btf_of(features_o))
    prog = btf.find("prog", Kind.FUNC)
    glob = btf.find("glob", Kind.FUNC)
    assert prog is not None and glob is not None
    assert btf.decl_tags(prog) == [(-1, "exception_callback:exc_cb")]
    assert btf.decl_tags(glob) == [(0, "param_tag")]
    assert btf.decl_tags(0) == []


def test_every_kind_encodes_back() -> None:
    # A hand-built BTF holding the kinds clang rarely emits: FWD, ENUM64, FLOAT, TYPE_TAG, RESTRICT, ARRAY.
    strings = b"\0int\0fwd\0e\0A\0f\0tag\0"
    types = [
        make_type(Kind.INT, 1, 4, (0x01000020,)),
        make_type(Kind.FWD, 5, 0, kind_flag=True),
        make_type(Kind.ENUM64, 9, 8, (13, 0xFFFFFFFF, 0xFFFFFFFF), vlen=1, kind_flag=True),
        make_type(Kind.FLOAT, 15, 8),
        make_type(Kind.TYPE_TAG, 17, 1),
        make_type(Kind.RESTRICT, 0, 5),
        make_type(Kind.ARRAY, 0, 0, (1, 1, 5)),
        make_type(Kind.ENUM, 11, 4, (13, 0xFFFFFFFE), vlen=1, kind_flag=True),
    ]
    body = b"".join(t.encode() for t in types)
    raw = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(body), len(body), len(strings)) + body + strings
    btf = parse_btf(raw)
    assert btf.encode() == raw
    assert btf.type(3).enum_values()[0].value == -1
    assert btf.type(8).enum_values()[0].value == -2
    assert btf.size(7) == 20
    assert btf.resolve(6) == 1
    assert btf.type(2).kind_flag


def test_add_string_and_with_types(features_o: Path) -> None:
    btf = parse_btf(_btf_of(features_o))
    again, off = btf.add_string("prog")
    assert again is btf and btf.string(off) == "prog"
    grown, off = btf.add_string("brand_new")
    assert grown.string(off) == "brand_new"
    node = btf.find("node", Kind.STRUCT)
    assert node is not None
    bigger = grown.with_types({node: make_type(Kind.STRUCT, btf.type(node).name_off, 32, btf.type(node).extra, vlen=2)})
    assert bigger.size(node) == 32
    assert parse_btf(bigger.encode()).size(node) == 32


@pytest.mark.skipif(not os.path.exists(VMLINUX), reason="no /sys/kernel/btf/vmlinux")
def test_vmlinux_parses_fast() -> None:
    with open(VMLINUX, "rb") as fh:
        raw = fh.read()
    start = time.perf_counter()
    btf = parse_btf(raw, source=VMLINUX)
    task = btf.find("task_struct", Kind.STRUCT)
    elapsed = time.perf_counter() - start
    assert task is not None and btf.size(task) > 1000
    assert len(btf.types) > 50_000
    assert elapsed < 2.0, f"parsing vmlinux and indexing it took {elapsed:.2f} s"
    assert btf.encode() == raw


@pytest.mark.skipif(not os.path.exists(VMLINUX), reason="no /sys/kernel/btf/vmlinux")
def test_split_module_btf() -> None:
    modules = [p for p in Path("/sys/kernel/btf").iterdir() if p.name != "vmlinux"]
    if not modules:
        pytest.skip("no module BTF")
    with open(VMLINUX, "rb") as fh:
        base = parse_btf(fh.read())
    raw = modules[0].read_bytes()
    mod = parse_btf(raw, base=base, source=str(modules[0]))
    assert mod.start_id == len(base.types)
    assert len(mod.types) >= len(base.types)
    assert mod.encode() == raw
    for type_id in range(mod.start_id, len(mod.types)):
        mod.name(type_id)  # every name resolves, base or own


def _header(**changes: int) -> bytes:
    fields = {"magic": 0xEB9F, "version": 1, "flags": 0, "hdr_len": 24, "type_off": 0, "type_len": 0}
    fields |= {"str_off": 0, "str_len": 1}
    fields |= changes
    return struct.pack("<HBBIIIII", *fields.values())


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\x9f\xeb", "too short"),
        (_header(magic=0x1234) + b"\0", "bad BTF magic"),
        (_header(magic=0x9FEB) + b"\0", "big-endian"),
        (_header(version=2) + b"\0", "version"),
        (_header(str_len=100) + b"\0", "string section bounds"),
        (_header(type_len=12, str_off=12) + struct.pack("<III", 0, 25 << 24, 0) + b"\0", "unknown BTF kind"),
        (_header(type_len=12, str_off=12) + struct.pack("<III", 0, 2 << 24, 7) + b"\0", "missing type 7"),
        (_header(type_len=12, str_off=12) + struct.pack("<III", 50, 2 << 24, 0) + b"\0", "name offset"),
        (_header(type_len=12, str_off=12) + struct.pack("<III", 0, (4 << 24) | 1, 4) + b"\0", "truncated BTF"),
    ],
)
def test_bad_btf_is_input_error(raw: bytes, message: str) -> None:
    with pytest.raises(InputError) as err:
        parse_btf(raw, source="x.o")
    assert str(err.value).startswith("x.o:.BTF")
    assert message in str(err.value)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(picks=st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), min_size=1, max_size=6))
def test_mutated_btf_parses_or_raises_input_error(features_o: Path, picks: list[tuple[int, int]]) -> None:
    raw = bytearray(_btf_of(features_o))
    for at, value in picks:
        raw[at % len(raw)] = value
    try:
        btf = parse_btf(bytes(raw), source="m.o")
        for type_id in range(len(btf.types)):
            btf.name(type_id)
            btf.resolve(type_id)
            btf.decl_tags(type_id)
        ext = _ext_of(features_o)
        parse_btf_ext(ext, btf, source="m.o")
    except InputError as exc:
        assert str(exc).startswith("m.o:")


def _ext_of(path: Path) -> bytes:
    with open(path, "rb") as fh:
        sec = ELFFile(fh).get_section_by_name(".BTF.ext")
        assert sec is not None
        return bytes(sec.data())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(picks=st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), min_size=1, max_size=6))
def test_mutated_btf_ext_parses_or_raises_input_error(features_o: Path, picks: list[tuple[int, int]]) -> None:
    btf = parse_btf(_btf_of(features_o))
    raw = bytearray(_ext_of(features_o))
    for at, value in picks:
        raw[at % len(raw)] = value
    try:
        parse_btf_ext(bytes(raw), btf, source="m.o")
    except InputError as exc:
        assert str(exc).startswith("m.o:.BTF.ext")


def test_btf_ext_records(features_o: Path) -> None:
    btf = parse_btf(_btf_of(features_o))
    ext = parse_btf_ext(_ext_of(features_o), btf)
    assert [btf.name(r.type_id) for r in ext.func_info["tc"]] == ["prog"]
    assert {btf.name(r.type_id) for r in ext.func_info[".text"]} >= {"glob", "mid", "leaf", "exc_cb", "loop_cb"}
    assert [(r.insn_off, r.access, r.kind) for r in ext.core_relos["xdp"]] == [(16, "0", 6)]
    assert [(r.access, r.kind) for r in ext.core_relos["tp_btf/sched_switch"]] == [("0:0", 0)]
    assert ext.line_info["tc"][0].text == "int prog(void *ctx)"
