"""The loader: exception callbacks, global data, kfunc ids, libbpf's BTF fix-ups."""

from __future__ import annotations

import hashlib
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from framework.errors import InputError
from framework.isa import opcodes as op
from framework.isa.llvm_asm import assemble
from framework.load.corpus import RunInput
from framework.load.program import FuncInfo, Linkage, MapDef, Program, Subprog
from framework.oracle import bpf_syscall as sys_
from framework.oracle.btf_fixup import fixup_btf
from framework.oracle.loader import load
from framework.oracle.record import image_offsets, record
from oracle.btf_build import BtfBuilder

PKT = RunInput("pkt", bytes(64))


def _program(name: str, lines: list[str], **extra: object) -> Program:
    asm = assemble(lines)
    slots = list(asm.slots)
    kfuncs: list[str] = []
    for pc, symbol, _field in asm.relocations:
        insn = slots[pc]
        assert insn is not None
        kfuncs.append(symbol)
        slots[pc] = insn.replace(src=op.PSEUDO_KFUNC_CALL, imm=len(kfuncs) - 1)
    subprogs = extra.pop("subprogs", (Subprog(name, 0, len(slots), Linkage.GLOBAL),))
    return Program(
        name=name,
        section="tc",
        prog_type="sched_cls",
        slots=tuple(slots),
        subprogs=subprogs,  # type: ignore[arg-type]
        source=f"<{name}>",
        sha256=hashlib.sha256("\n".join(lines).encode()).hexdigest(),
        kfuncs=tuple(kfuncs),
        **extra,  # type: ignore[arg-type]
    )


def _with_exception_cb() -> Program:
    """main throws 7; the callback `cb` returns cookie + 100, so the program returns 107."""
    b = BtfBuilder()
    int_ = b.int_("int", 4, signed=True)
    u64 = b.int_("unsigned long long", 8)
    void_ptr = b.ptr(0)
    main = b.func("prog", b.func_proto(int_, [("ctx", void_ptr)]))
    cb = b.func("cb", b.func_proto(int_, [("cookie", u64)]))
    b.decl_tag("exception_callback:cb", main)
    lines = ["r1 = 7", "call bpf_throw", "r0 = 0", "exit", "cb:", "r0 = r1", "r0 += 100", "exit"]
    return _program(
        "exc_cb",
        lines,
        subprogs=(Subprog("prog", 0, 4, Linkage.GLOBAL, main), Subprog("cb", 4, 7, Linkage.GLOBAL, cb, True)),
        btf=b.encode(),
        func_info=(FuncInfo(0, main), FuncInfo(4, cb)),
    )


@pytest.mark.kernel
@pytest.mark.usefixtures("bpf")
def test_exception_callback_result_is_the_program_result() -> None:
    rec = record(_with_exception_cb(), (PKT,), batches=3, repeat=10)
    assert rec.verdict == "accepted", rec.log
    assert rec.runs[0].retval == 107
    assert len(rec.stack_depth) == 2  # main and the callback
    assert rec.bytes_jited and len(rec.jited_image) == rec.bytes_jited
    assert len(rec.jited_ksyms) == 2


@pytest.mark.kernel
@pytest.mark.usefixtures("bpf")
def test_global_data_is_initialised_and_rodata_frozen() -> None:
    rodata = MapDef(".rodata", "array", 4, 4, 1, section=".rodata", initial=struct.pack("<I", 1234))
    prog = _program("rodata", ["ld_pseudo r1, 6, 0, 0", "r0 = *(u32 *)(r1 + 0)", "exit"], maps=(rodata,))
    rec = record(prog, (PKT,), batches=1, repeat=1)
    assert rec.verdict == "accepted", rec.log
    assert rec.runs[0].retval == 1234


@pytest.mark.kernel
@pytest.mark.usefixtures("bpf")
def test_rejection_is_a_record_with_the_kernels_message() -> None:
    prog = _program("leak", ["r1 = 0", "call bpf_throw", "exit"])
    rec = record(prog)
    assert rec.verdict == "accepted"  # the default callback returns the cookie
    bad = _program("noret", ["exit"])
    rec = record(bad)
    assert rec.verdict == "rejected" and rec.message == "R0 !read_ok" and rec.errno == 13


def test_unknown_kfunc_is_bad_input() -> None:
    prog = _program("nokfunc", ["call bpf_no_such_kfunc", "r0 = 0", "exit"])
    with pytest.raises(InputError, match="bpf_no_such_kfunc"):
        load(prog)


@pytest.mark.kernel
@pytest.mark.toolchain
@pytest.mark.usefixtures("bpf")
def test_btf_fixups_make_clangs_btf_loadable(tmp_path: Path) -> None:
    clang = shutil.which("clang-19")
    if clang is None:
        pytest.skip("clang-19 is not installed")
    src = tmp_path / "g.c"
    src.write_text(
        "typedef unsigned long long u64;\n"
        'extern void bpf_throw(u64 cookie) __attribute__((section(".ksyms")));\n'
        "int a = 1; u64 b = 2; const volatile int c = 3; int z;\n"
        '__attribute__((section("tc"), used)) int prog(void *ctx) { if (a) bpf_throw(b + c + z); return 0; }\n'
        'char _license[] __attribute__((section("license"), used)) = "GPL";\n'
    )
    obj = tmp_path / "g.o"
    subprocess.run([clang, "-g", "-O2", "-target", "bpf", "-c", str(src), "-o", str(obj)], check=True)
    from elftools.elf.elffile import ELFFile

    with obj.open("rb") as fh:
        elf = ELFFile(fh)
        raw = elf.get_section_by_name(".BTF").data()
        sizes = {s.name: s["sh_size"] for s in elf.iter_sections()}
        symbols = {s.name: s["st_value"] for s in elf.get_section_by_name(".symtab").iter_symbols()}
    with pytest.raises(sys_.BpfError, match="Invalid func linkage"):
        sys_.btf_load(raw).close()
    with sys_.btf_load(fixup_btf(raw, sizes, symbols)) as fd:
        assert not fd.closed


@pytest.mark.kernel
@pytest.mark.usefixtures("bpf")
def test_jited_line_info_maps_into_the_image() -> None:
    from framework.load.elf import load_object

    root = Path(__file__).resolve().parents[2]
    obj = root / "programs" / "obj" / "basic_throw.o"
    if not obj.is_file():
        pytest.skip("the corpus is not in the tree")
    program = next(p for p in load_object(str(obj)) if p.name == "throw_static")
    rec = record(program)
    assert rec.verdict == "accepted"
    offsets = image_offsets(rec)
    assert 0 < len(rec.jited_lines) <= len(program.line_info)  # dead code (after a throw) loses its lines
    assert all(0 <= off < len(rec.jited_image) for _, off in offsets)
    # Linux 6.18 quirk: a program that throws gets a hidden exception callback, JITed but not in
    # jited_ksyms, and its address lands in jited_line_info[0] (main's first line).
    missing = {line.insn_off for line in rec.jited_lines} - {insn for insn, _ in offsets}
    assert missing <= {0}
    assert sum(rec.jited_func_lens) == rec.bytes_jited


@pytest.mark.kernel
@pytest.mark.usefixtures("bpf")
def test_ctrl_c_during_a_test_run_closes_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    before = sys_.loaded_prog_ids()

    def interrupted(*args: object, **kwargs: object) -> sys_.TestRun:
        raise KeyboardInterrupt

    monkeypatch.setattr(sys_, "prog_test_run", interrupted)
    rodata = MapDef(".rodata", "array", 4, 4, 1, section=".rodata", initial=struct.pack("<I", 1))
    prog = _program("ctrl_c", ["ld_pseudo r1, 6, 0, 0", "r0 = *(u32 *)(r1 + 0)", "exit"], maps=(rodata,))
    with pytest.raises(KeyboardInterrupt):
        record(prog, (PKT,))
    assert sys_.loaded_prog_ids() == before
