"""The corpus (programs/): objects rebuild byte-identical, hold no build path, match their manifests.

Needs no toolchain except where said: the rebuild test skips without clang-19
and llvm-19, the kernel test without root and bpf().
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from framework.errors import InputError
from framework.isa.decode import decode, iter_insns
from framework.isa.llvm_asm import parse_line
from framework.isa.opcodes import SPECS
from framework.load.btf import Btf, parse_btf
from framework.load.btf import Kind as BtfKind
from framework.plugins import strategies

ROOT = Path(__file__).resolve().parents[2]
PROGRAMS = ROOT / "programs"
OBJECTS = sorted((PROGRAMS / "obj").glob("*.o"))
MANIFESTS = sorted((PROGRAMS / "c").glob("*.toml")) + sorted((PROGRAMS / "asm").glob("*.toml"))
SOURCES = sorted((PROGRAMS / "c").glob("*.bpf.c")) + sorted((PROGRAMS / "asm").glob("*.s"))
STRATEGY_SLOTS = tuple(strategies())  # every registered strategy has its expectation table
BUILD_PATHS = (b"/work", b"/home", b"/root", b"/tmp")


def need_tool(name: str) -> None:
    if shutil.which(name) is None:
        pytest.skip(f"{name} is not installed (apt-get install clang-19 llvm-19)")


def _build_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("corpus_build", PROGRAMS / "build.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _programs_in(obj: Path) -> dict[str, str]:
    """Program name -> section: global FUNC symbols outside .text, as libbpf finds programs."""
    found = {}
    with obj.open("rb") as fh:
        elf = ELFFile(fh)
        symtab = elf.get_section_by_name(".symtab")
        assert isinstance(symtab, SymbolTableSection)
        for sym in symtab.iter_symbols():
            if sym["st_info"]["type"] != "STT_FUNC" or sym["st_info"]["bind"] != "STB_GLOBAL":
                continue
            section = elf.get_section(sym["st_shndx"]).name
            if section != ".text":
                found[sym.name] = section
    return found


def _section_bytes(obj: Path, name: str) -> bytes:
    with obj.open("rb") as fh:
        section = ELFFile(fh).get_section_by_name(name)
        assert section is not None, f"{obj.name} has no section {name}"
        return bytes(section.data())


@pytest.fixture(scope="module")
def rebuilt() -> Iterator[Path]:
    for tool in ("clang-19", "llvm-mc-19", "llvm-strip-19"):
        need_tool(tool)
    build = _build_module()
    with tempfile.TemporaryDirectory(prefix="corpus-rebuild-") as tmp:
        build.build_all(Path(tmp))
        yield Path(tmp)


def test_every_source_has_an_object_and_a_manifest() -> None:
    assert SOURCES, "programs/ has no sources"
    for source in SOURCES:
        stem = source.name.removesuffix(".bpf.c").removesuffix(".s")
        assert (PROGRAMS / "obj" / f"{stem}.o").is_file(), f"{source.name} has no object; run programs/build.py"
        assert (source.parent / f"{stem}.toml").is_file(), f"{source.name} has no manifest"
    assert len(OBJECTS) == len(SOURCES), "programs/obj holds objects without a source"


@pytest.mark.toolchain
@pytest.mark.parametrize("obj", OBJECTS, ids=lambda p: p.name)
def test_object_rebuilds_byte_identical(rebuilt: Path, obj: Path) -> None:
    fresh = rebuilt / obj.name
    assert fresh.is_file(), f"no source builds {obj.name}"
    assert fresh.read_bytes() == obj.read_bytes(), f"{obj.name} is stale or not reproducible; run programs/build.py"


@pytest.mark.toolchain
def test_build_info_matches_this_toolchain(rebuilt: Path) -> None:
    recorded = (PROGRAMS / "obj" / "BUILD-INFO.txt").read_text()
    assert recorded == (rebuilt / "BUILD-INFO.txt").read_text()
    assert "clang-19 -O2 -g -target bpf" in recorded
    assert "<root>" in recorded and str(ROOT) not in recorded


@pytest.mark.toolchain
def test_rebuild_does_not_depend_on_the_checkout_path(rebuilt: Path) -> None:
    """Build a copy of programs/ from another directory: same bytes (the prefix map works)."""
    build = _build_module()
    with tempfile.TemporaryDirectory(prefix="corpus-elsewhere-") as tmp:
        other = Path(tmp) / "checkout"
        (other / "programs").mkdir(parents=True)
        for sub in ("include", "c"):
            subprocess.run(["cp", "-r", str(PROGRAMS / sub), str(other / "programs" / sub)], check=True)
        build.ROOT = other
        try:
            source = Path("programs/c/merge_null_or_obj.bpf.c")
            out = Path(tmp) / "out.o"
            build.build_c(source, out)
        finally:
            build.ROOT = ROOT
        assert out.read_bytes() == (rebuilt / "merge_null_or_obj.o").read_bytes()


@pytest.mark.parametrize("obj", OBJECTS, ids=lambda p: p.name)
def test_object_holds_no_build_path(obj: Path) -> None:
    data = obj.read_bytes()
    for path in BUILD_PATHS:
        assert path not in data, f"{obj.name} contains {path.decode()!r}"


@pytest.mark.parametrize("obj", [o for o in OBJECTS if o.stem != "every_opcode"], ids=lambda p: p.name)
def test_object_keeps_btf_and_drops_dwarf(obj: Path) -> None:
    with obj.open("rb") as fh:
        names = {s.name for s in ELFFile(fh).iter_sections()}
    assert {".BTF", ".BTF.ext"} <= names
    assert not {n for n in names if n.startswith(".debug")}


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda p: p.name)
def test_manifest_matches_its_object(manifest: Path) -> None:
    doc = tomllib.loads(manifest.read_text())
    packets = tomllib.loads((PROGRAMS / "packets.toml").read_text())["packet"]
    assert (PROGRAMS / doc["source"]).is_file()
    obj = PROGRAMS / doc["object"]
    assert obj.is_file(), f"{manifest.name} names a missing object {doc['object']}"
    in_object = _programs_in(obj)
    listed = {p["name"] for p in doc["program"]}
    assert listed == set(in_object), f"{manifest.name} lists {sorted(listed)}, the object has {sorted(in_object)}"
    for prog in doc["program"]:
        where = f"{manifest.name}:{prog['name']}"
        assert prog["section"] == in_object[prog["name"]], where
        assert _section_bytes(obj, prog["section"]), where
        assert prog["type"] and prog["description"], where
        inputs = prog.get("input", [])
        names = [i["name"] for i in inputs]
        assert len(names) == len(set(names)), f"{where}: input names repeat"
        for entry in inputs:
            assert ("packet" in entry) != ("builder" in entry), f"{where}: {entry['name']} needs packet or builder"
            if "builder" in entry:
                assert entry["builder"] in packets, f"{where}: unknown packet {entry['builder']}"
            else:
                bytes.fromhex(entry["packet"])
            if "ctx" in entry:  # ctx_in: at most a struct __sk_buff
                assert len(bytes.fromhex(entry["ctx"])) <= 192, f"{where}: {entry['name']}: ctx is over 192 bytes"
            if "timeout" in entry:  # beyond the emulator: needs the bound it is stopped by, and the kernel's value
                assert entry["timeout"] is True and "time_limit_s" in prog, f"{where}: {entry['name']}: timeout"
                assert prog["expect"]["stock"]["verdict"] == "accepted", f"{where}: timeout on a refused program"
        if "time_limit_s" in prog:
            assert 0 < float(prog["time_limit_s"]) <= 60, f"{where}: time_limit_s is seconds, at most the default 60"
        assert set(prog["expect"]) == set(STRATEGY_SLOTS), where
        stock = prog["expect"]["stock"]
        assert stock["verdict"] in ("accepted", "rejected"), where
        assert stock["source"] in ("kernel", "kernel-semantics.md"), where
        for key in ("retval", "threw"):
            assert set(stock.get(key, {})) <= set(names), f"{where}: {key} names unknown inputs"
        if stock["verdict"] == "accepted":
            assert set(stock.get("retval", {})) == set(names), f"{where}: every input needs a retval"
        else:
            assert "retval" not in stock and stock.get("message"), where


def test_an_inputs_ctx_is_its_ctx_in() -> None:
    """`ctx` (hex) is the input's ctx_in, beside its packet; without it there is none."""
    from framework.load.corpus import RunInput

    named = {"eth_short": bytes.fromhex("00000000000200000000000188b5")}
    ctx = bytes(8) + (0x0BADF00D).to_bytes(4, "little")  # __sk_buff.mark
    inp = RunInput.from_manifest({"name": "m", "builder": "eth_short", "ctx": ctx.hex()}, named)
    assert (inp.name, inp.packet, inp.ctx) == ("m", named["eth_short"], ctx)
    assert RunInput.from_manifest({"name": "n", "builder": "eth_short"}, named).ctx is None
    with pytest.raises(InputError, match="bad program input"):
        RunInput.from_manifest({"name": "x", "builder": "eth_short", "ctx": "0g"}, named, "m.toml")


def test_every_rejected_program_names_an_accepted_clean_twin() -> None:
    """The twin computes what the program should return once a strategy cleans up for it. A
    program every strategy refuses (a verifier rule no cleanup changes) runs nowhere, so it needs
    none; if it names one, the twin is held to the same rules."""
    for manifest in MANIFESTS:
        programs = {p["name"]: p for p in tomllib.loads(manifest.read_text())["program"]}
        for name, prog in programs.items():
            twin_name = prog.get("clean_twin")
            if prog["expect"]["stock"]["verdict"] == "accepted" or name == "every_opcode":
                assert twin_name is None, f"{name}: only rejected programs name a clean twin"
                continue
            if twin_name is None and all(e["verdict"] == "rejected" for e in prog["expect"].values()):
                continue
            assert twin_name in programs, f"{manifest.name}:{name} names no clean twin in its manifest"
            twin = programs[twin_name]
            assert twin["expect"]["stock"]["verdict"] == "accepted", twin_name
            inputs = [i["name"] for i in prog.get("input", [])]
            assert inputs == [i["name"] for i in twin.get("input", [])], f"{name} and {twin_name} differ in inputs"


def test_packets_are_hex_and_long_enough_for_a_test_run() -> None:
    for name, entry in tomllib.loads((PROGRAMS / "packets.toml").read_text())["packet"].items():
        data = bytes.fromhex(entry["hex"])
        assert len(data) >= 14, name
        if data[12:14] == b"\x08\x00":
            assert len(data) >= 34, f"{name}: the kernel refuses IPv4 test packets under 34 bytes"


def test_every_opcode_covers_every_spec() -> None:
    obj = PROGRAMS / "obj" / "every_opcode.o"
    seen = {insn.spec.name for _, insn in iter_insns(decode(_section_bytes(obj, "tc")))}
    missing = sorted({s.name for s in SPECS} - seen)
    assert not missing, f"every_opcode.o lacks {missing}"


def test_every_opcode_source_header() -> None:
    head = {}
    for line in (PROGRAMS / "asm" / "every_opcode.s").read_text().splitlines():
        if not line.startswith("# ") or ":" not in line:
            break
        key, _, value = line[2:].partition(":")
        head[key.strip()] = value.strip()
    assert head["program"] == "every_opcode"
    assert head["type"] == "sched_cls"
    assert head["section"] == "tc"


def test_llvm21_lines_become_their_encoding() -> None:
    build = _build_module()
    text = "every:\n\tr1 = load_acquire((u64 *)(r10 - 0x8))\t# load_acquire_dw\n\tstore_release((u8 *)(r1 + 0x2), w3)\n"
    out = build.preprocess_asm(text).splitlines()
    assert out[0] == "every:"
    for line, source in zip(out[1:], text.splitlines()[1:], strict=True):
        word = int(line.split()[1], 16)
        want = parse_line(source.split("#")[0].strip()).encode()  # type: ignore[union-attr]
        assert word.to_bytes(8, "little") == want
        assert line.split()[0] == ".quad"


def test_assert_range_emits_compare_and_throw() -> None:
    """bpf_assert_range_with(v, 1, 64, 66): `if v >= 1 goto +2; r1 = 66; call`, then `<= 64`."""
    obj = PROGRAMS / "obj" / "basic_throw.o"
    insns = [i for _, i in iter_insns(decode(_section_bytes(obj, "tc")))]
    text = [(i.spec.name, i.imm, i.off) for i in insns]
    for bound, spec in ((1, "jmp_jge_k"), (64, "jmp_jle_k")):
        at = text.index((spec, bound, 2))
        assert text[at + 1] == ("alu64_mov_k", 66, 0)
        assert text[at + 2][0] == "call"


@pytest.mark.kernel
@pytest.mark.slow
def test_stock_expectations_match_the_running_kernel() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: loads programs with bpf() and test-runs them in a fresh netns")
    done = subprocess.run(
        [sys.executable, str(PROGRAMS / "stock_check.py")], capture_output=True, text=True, check=False, cwd=ROOT
    )
    if done.returncode == 2:
        pytest.skip(f"the kernel or libbpf is not usable here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stdout + done.stderr
    checked = [
        prog["name"]
        for manifest in MANIFESTS
        for prog in tomllib.loads(manifest.read_text())["program"]
        if prog["expect"]["stock"]["source"] == "kernel"
    ]
    for name in checked:
        assert f":{name}: " in done.stdout, name
    assert done.stdout.count(" -- ok") >= len(checked)


_EXTERN = re.compile(r"^extern\s+(?P<ret>[\w\s\*]+?)\s*\b(?P<name>bpf_\w+)\((?P<params>[^)]*)\)\s*__ksym;", re.M)


def _c_type(btf: Btf, type_id: int) -> str:
    """A BTF type as the header would spell it, without qualifier spacing games."""
    if type_id == 0:
        return "void"
    t = btf.type(type_id)
    kind = btf.kind(type_id)
    if kind is BtfKind.PTR:
        return _c_type(btf, t.type) + " *"
    if kind is BtfKind.CONST:
        return "const " + _c_type(btf, t.type)
    if kind in (BtfKind.STRUCT, BtfKind.UNION, BtfKind.FWD):
        return ("union " if kind is BtfKind.UNION else "struct ") + btf.name(type_id)
    return btf.name(type_id)


def _normal(text: str) -> str:
    """`__u64` and `u64` are one type to the kernel's kfunc check; spacing around `*` is free."""
    text = re.sub(r"\b__([us]\d+)\b", r"\1", text)
    text = re.sub(r"\s*\*\s*", " *", text)
    return " ".join(text.split()).replace("* ", "*")


def _param_type(param: str) -> str:
    """`const struct bpf_dynptr *p` -> `const struct bpf_dynptr *`."""
    param = param.strip()
    if param in ("void", ""):
        return ""
    return _normal(re.sub(r"\w+$", "", param))


@pytest.mark.kernel
def test_kfunc_prototypes_match_the_running_kernel() -> None:
    vmlinux = Path("/sys/kernel/btf/vmlinux")
    if not vmlinux.is_file():
        pytest.skip("no /sys/kernel/btf/vmlinux (kernel without CONFIG_DEBUG_INFO_BTF)")
    btf = parse_btf(vmlinux.read_bytes(), source=str(vmlinux))
    header = (PROGRAMS / "include" / "bakeoff.h").read_text()
    externs = list(_EXTERN.finditer(header))
    assert len(externs) >= 20
    for m in externs:
        name = m["name"]
        func = btf.find(name, BtfKind.FUNC)
        assert func is not None, f"the running kernel has no kfunc {name}"
        proto = btf.type(btf.type(func).type)
        want_ret = _normal(_c_type(btf, proto.type))
        want = [_normal(_c_type(btf, p.type)) for p in proto.params()]
        got = [t for t in (_param_type(p) for p in m["params"].split(",")) if t]
        assert _normal(m["ret"]) == want_ret, f"{name} returns {want_ret} in the kernel"
        assert got == want, f"{name} takes ({', '.join(want)}) in the kernel, bakeoff.h says ({', '.join(got)})"
