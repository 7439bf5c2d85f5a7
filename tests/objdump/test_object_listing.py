"""`bakeoff disasm OBJECT` against llvm-objdump-19 itself, whole output, byte for byte.

The objects are built here from the sources in data/ (clang-19 at two cpus, llvm-mc-19),
one per case the loader cannot turn into programs or objdump prints in its own way:
code only in .text, a static function, section names libbpf does not know, legacy
`maps`, externs, relocations against data sections, CO-RE relocations, labels and far
branches (`<func+0xNN>`, targets past either end), data in code, bytes that are no
instruction, zero runs; and one object whose relocations are patched to forms no
assembler writes. Each is printed with no option, --mcpu=v4, -r and --mcpu=v2 -r.
"""

from __future__ import annotations

import difflib
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from framework.cli import EXIT_BAD_INPUT, EXIT_OK, main

DATA = Path(__file__).parent / "data"
CLANG, LLVM_MC, OBJDUMP = "clang-19", "llvm-mc-19", "llvm-objdump-19"
MISSING = [tool for tool in (CLANG, LLVM_MC, OBJDUMP) if shutil.which(tool) is None]
needs_llvm = pytest.mark.skipif(bool(MISSING), reason=f"LLVM 19 tools not installed: {', '.join(MISSING)}")

SOURCES = sorted(p.name for p in DATA.iterdir() if p.suffix in (".c", ".s"))
OBJECTS = [f"{Path(s).stem}-{cpu}.o" for s in SOURCES if s.endswith(".c") for cpu in ("v1", "v3")]
OBJECTS += [f"{Path(s).stem}.o" for s in SOURCES if s.endswith(".s")] + ["patched_relocs.o"]
OPTIONS = [[], ["--mcpu=v4"], ["-r"], ["--mcpu=v2", "-r"]]


def _patch_relocs(obj: Path, out: Path) -> None:
    """The object's first relocations rewritten: against symbol 0, of a type BPF has no name for,
    inside an instruction's second slot, and past the section's end."""
    data = bytearray(obj.read_bytes())
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shnum = struct.unpack_from("<H", data, 0x3C)[0]
    rel = next(i for i in range(shnum) if struct.unpack_from("<I", data, shoff + i * 64 + 4)[0] == 9)  # SHT_REL
    at = struct.unpack_from("<Q", data, shoff + rel * 64 + 0x18)[0]
    count = struct.unpack_from("<Q", data, shoff + rel * 64 + 0x20)[0] // 16
    assert count >= 4, "the source needs four relocations"
    offset, info = struct.unpack_from("<QQ", data, at)
    struct.pack_into("<QQ", data, at, offset, 1)  # symbol 0, R_BPF_64_64
    offset, info = struct.unpack_from("<QQ", data, at + 16)
    struct.pack_into("<QQ", data, at + 16, offset, (info >> 32 << 32) | 7)  # type 7: "Unknown"
    offset, info = struct.unpack_from("<QQ", data, at + 32)
    struct.pack_into("<QQ", data, at + 32, offset + 4, info)
    struct.pack_into("<QQ", data, at + 48, 0x10000, struct.unpack_from("<QQ", data, at + 48)[1])
    out.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if MISSING:
        pytest.skip(f"LLVM 19 tools not installed: {', '.join(MISSING)}")
    out = tmp_path_factory.mktemp("objdump")
    for name in SOURCES:
        source, stem = DATA / name, Path(name).stem
        if name.endswith(".c"):
            for cpu in ("v1", "v3"):
                obj = out / f"{stem}-{cpu}.o"
                subprocess.run(
                    [CLANG, "-target", "bpf", f"-mcpu={cpu}", "-O2", "-g", "-c", str(source), "-o", str(obj)],
                    check=True,
                )
        else:
            obj = out / f"{stem}.o"
            subprocess.run(
                [LLVM_MC, "-triple", "bpf", "-mcpu=v4", "-filetype=obj", str(source), "-o", str(obj)], check=True
            )
    _patch_relocs(out / "externs-v1.o", out / "patched_relocs.o")
    return out


def _disasm(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["disasm", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@needs_llvm
@pytest.mark.toolchain
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: " ".join(o) or "default")
@pytest.mark.parametrize("name", OBJECTS)
def test_disasm_prints_what_llvm_objdump_prints(
    built: Path, name: str, options: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(built / name)
    theirs = subprocess.run([OBJDUMP, "-d", *options, path], capture_output=True, text=True, check=True).stdout
    code, ours, err = _disasm([path, *options], capsys)
    assert code == EXIT_OK and err == "", err
    assert "Disassembly of section" in theirs
    diff = list(difflib.unified_diff(theirs.splitlines(), ours.splitlines(), OBJDUMP, "bakeoff disasm", lineterm=""))
    assert ours == theirs, "\n".join(diff[:40])


@needs_llvm
@pytest.mark.toolchain
def test_the_objects_are_ones_the_loader_cannot_read(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The cases are real: each of these is refused by `--loaded`, in one line, and printed without it."""
    refused = {}
    for name in ("text_only-v1.o", "unknown_sections-v1.o", "externs-v1.o"):
        code, out, err = _disasm([str(built / name), "--loaded"], capsys)
        assert code == EXIT_BAD_INPUT and out == "" and err.count("\n") == 1, (name, err)
        refused[name] = err
    assert "holds no BPF programs" in refused["text_only-v1.o"]
    assert "ext_fn" in refused["externs-v1.o"]


@needs_llvm
@pytest.mark.toolchain
def test_program_names_a_program_only_where_the_loader_reads_the_object(
    built: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--program is the loader's view: an object it refuses is its one line, exit 2, printed nothing."""
    for name, why in (("static_fn-v3.o", "program 'hidden' is static"), ("text_only-v1.o", "holds no BPF programs")):
        code, out, err = _disasm([str(built / name), "--program", "entry"], capsys)
        assert code == EXIT_BAD_INPUT and out == "" and err.count("\n") == 1, err
        assert err.startswith(f"bakeoff: error: {built / name}") and why in err, err
    code, out, err = _disasm([str(built / "legacy_maps-v3.o"), "--program", "count"], capsys)
    assert code == EXIT_OK, err
    assert "program count (section socket1" in out and "<counters>" in out, out


def test_not_an_elf_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not an object\n")
    code, out, err = _disasm([str(path)], capsys)
    assert code == EXIT_BAD_INPUT and out == ""
    assert err == f"bakeoff: error: {path}: not an ELF object or a .s assembly file\n"


def test_a_damaged_elf_header_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "short.o"
    path.write_bytes(b"\x7fELF" + b"\x02\x01\x01" + bytes(40))
    code, out, err = _disasm([str(path)], capsys)
    assert code == EXIT_BAD_INPUT and out == "" and err.count("\n") == 1
    assert err.startswith(f"bakeoff: error: {path}:0: not an ELF file"), err


@needs_llvm
@pytest.mark.toolchain
def test_an_object_without_code_prints_the_header_and_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """llvm-objdump prints its header alone and exits 0: a data-only object is not bad input."""
    source, obj = tmp_path / "data.c", tmp_path / "data.o"
    source.write_text("int counter = 1;\n")
    subprocess.run([CLANG, "-target", "bpf", "-O2", "-c", str(source), "-o", str(obj)], check=True)
    theirs = subprocess.run([OBJDUMP, "-d", str(obj)], capture_output=True, text=True, check=True).stdout
    code, out, err = _disasm([str(obj)], capsys)
    assert code == EXIT_OK and out == theirs
    assert err == f"bakeoff: note: {obj}: no executable section, nothing to disassemble\n"


@needs_llvm
@pytest.mark.toolchain
def test_a_symbol_table_that_cannot_be_read_is_a_note(
    built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As llvm-objdump after its warning: the code, each section under its own name, no relocations."""
    data = bytearray((built / "static_fn-v1.o").read_bytes())
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shnum = struct.unpack_from("<H", data, 0x3C)[0]
    symtab = next(i for i in range(shnum) if struct.unpack_from("<I", data, shoff + i * 64 + 4)[0] == 2)
    struct.pack_into("<I", data, shoff + symtab * 64 + 0x28, 240)  # sh_link: no such string table
    path = tmp_path / "bad_symtab.o"
    path.write_bytes(bytes(data))
    theirs = subprocess.run([OBJDUMP, "-d", str(path)], capture_output=True, text=True).stdout
    code, out, err = _disasm([str(path), "-r"], capsys)
    assert code == EXIT_OK and out == theirs
    assert (
        err
        == f"bakeoff: note: {path}:.symtab: bad string table index 240; disassembled without symbols or relocations\n"
    )


def test_reloc_needs_the_object_view(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(Path(__file__).parents[2] / "programs" / "obj" / "basic_throw.o")
    code, out, err = _disasm([path, "--loaded", "-r"], capsys)
    assert code == EXIT_BAD_INPUT and out == "" and err.count("\n") == 1
    assert "--reloc" in err
