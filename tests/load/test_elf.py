"""framework.load.elf: programs assembled as libbpf assembles them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from framework.isa import opcodes as op
from framework.isa.opcodes import Kind as IKind
from framework.load import load_path
from framework.load.btf import Kind, parse_btf
from framework.load.elf import load_object
from framework.load.maps import internal_map_name, object_name
from framework.load.program import Linkage, Program

VMLINUX = "/sys/kernel/btf/vmlinux"


def _by_name(path: Path) -> dict[str, Program]:
    return {p.name: p for p in load_object(str(path))}


def test_programs_are_global_functions_outside_text(features_o: Path) -> None:
    progs = load_object(str(features_o))
    assert [p.name for p in progs] == ["prog", "other", "pid_of"]
    prog, other, pid_of = progs
    assert (prog.section, prog.prog_type, prog.expected_attach_type) == ("tc", "sched_cls", None)
    assert (other.prog_type, other.expected_attach_type) == ("xdp", "xdp")
    assert (pid_of.prog_type, pid_of.expected_attach_type, pid_of.attach_to) == (
        "tracing",
        "trace_raw_tp",
        "sched_switch",
    )
    assert prog.license == "Dual BSD/GPL"
    assert prog.source == str(features_o) and len(prog.sha256) == 64
    assert prog.btf and parse_btf(prog.btf).find("prog", Kind.FUNC)


def test_subprogs_appended_depth_first_once_each(features_o: Path) -> None:
    prog = _by_name(features_o)["prog"]
    # prog uses loop_cb (bpf_loop's callback) first, then glob -> mid -> leaf; the
    # exception callback comes last although nothing calls it; unused_global never.
    assert [s.name for s in prog.subprogs] == ["prog", "loop_cb", "glob", "mid", "leaf", "exc_cb"]
    assert [s.linkage for s in prog.subprogs] == [
        Linkage.GLOBAL,
        Linkage.STATIC,
        Linkage.GLOBAL,
        Linkage.STATIC,
        Linkage.STATIC,
        Linkage.GLOBAL,
    ]
    assert [s.is_exception_cb for s in prog.subprogs] == [False] * 5 + [True]
    assert prog.exception_cb is not None and prog.exception_cb.name == "exc_cb"
    ends = [s.end for s in prog.subprogs]
    assert [s.start for s in prog.subprogs[1:]] == ends[:-1] and ends[-1] == len(prog.slots)
    # every BPF-to-BPF call lands on a subprog's first instruction
    starts = {s.start: s.name for s in prog.subprogs}
    calls = [(pc, i) for pc, i in prog.insns() if i.kind is IKind.CALL and i.src == op.PSEUDO_CALL]
    assert [starts[i.jump_target(pc)] for pc, i in calls] == ["glob", "mid", "leaf"]
    # the second program gets its own copy of leaf, called through a .text section relocation
    other = _by_name(features_o)["other"]
    assert [s.name for s in other.subprogs] == ["other", "leaf"]
    (call,) = [(pc, i) for pc, i in other.insns() if i.kind is IKind.CALL and i.src == op.PSEUDO_CALL]
    assert call[1].jump_target(call[0]) == other.subprogs[1].start


def test_callback_is_pseudo_func(features_o: Path) -> None:
    prog = _by_name(features_o)["prog"]
    (ld,) = [(pc, i) for pc, i in prog.insns() if i.kind is IKind.LD_IMM64 and i.src == op.PSEUDO_FUNC]
    assert ld[1].jump_target(ld[0]) == prog.subprogs[1].start  # loop_cb


def test_map_and_global_data_relocations(features_o: Path) -> None:
    prog = _by_name(features_o)["prog"]
    assert [m.name for m in prog.maps] == ["counts", "events", "features.data", "features.rodata", "features.bss"]
    counts, events, data, rodata, bss = prog.maps
    assert (counts.map_type, counts.key_size, counts.value_size, counts.max_entries) == ("hash", 4, 8, 16)
    assert (events.map_type, events.max_entries) == ("ringbuf", 4096)
    assert (data.map_type, data.max_entries, data.value_size, data.initial) == ("array", 1, 8, b"\x07\0\0\0\x09\0\0\0")
    assert rodata.flags & 0x80 and not data.flags & 0x80
    assert bss.initial == bytes(4) and bss.section == ".bss"
    lds = [i for _, i in prog.insns() if i.kind is IKind.LD_IMM64]
    assert [(i.src, i.imm) for i in lds if i.src == op.PSEUDO_MAP_IDX] == [(op.PSEUDO_MAP_IDX, 0)]
    values = {(prog.maps[i.imm].section, i.imm_hi) for i in lds if i.src == op.PSEUDO_MAP_IDX_VALUE}
    # grodata, gdata (offset 0 of .data), gbss, and gdata2 at offset 4 of .data
    assert values == {(".rodata", 0), (".data", 0), (".bss", 0), (".data", 4)}


def test_kfunc_calls_index_program_kfuncs(features_o: Path) -> None:
    prog = _by_name(features_o)["prog"]
    assert prog.kfuncs == ("bpf_throw",)
    kcalls = [i for _, i in prog.insns() if i.kind is IKind.CALL and i.src == op.PSEUDO_KFUNC_CALL]
    assert [(i.imm, i.off) for i in kcalls] == [(0, 0)]
    helpers = [i.imm for _, i in prog.insns() if i.kind is IKind.CALL and i.src == 0]
    assert helpers == [1, 181]


def test_func_info_and_line_info(features_o: Path) -> None:
    prog = _by_name(features_o)["prog"]
    btf = parse_btf(prog.btf)
    assert [f.pc for f in prog.func_info] == [s.start for s in prog.subprogs]
    assert [btf.name(f.type_id) for f in prog.func_info] == [s.name for s in prog.subprogs]
    assert [s.btf_id for s in prog.subprogs] == [f.type_id for f in prog.func_info]
    texts = {li.text.strip() for li in prog.line_info}
    assert "bpf_throw(1);" in texts
    assert all(li.file.endswith("features.bpf.c") for li in prog.line_info)
    pcs = [li.pc for li in prog.line_info]
    assert pcs == sorted(pcs) and pcs[0] == 0
    # the line info of leaf, appended at the end, is remapped into leaf's pcs
    leaf = next(s for s in prog.subprogs if s.name == "leaf")
    assert any(leaf.start <= li.pc < leaf.end and "gdata2" in li.text for li in prog.line_info)
    assert prog.symbols[leaf.start] == "leaf" and prog.symbols[0] == "prog"


def test_core_type_id_local(features_o: Path) -> None:
    other = _by_name(features_o)["other"]
    btf = parse_btf(other.btf)
    node = btf.find("node", Kind.STRUCT)
    lds = [i for _, i in other.insns() if i.kind is IKind.LD_IMM64 and i.src == 0]
    assert [i.imm for i in lds] == [node]
    assert other.core_relos == ()


def test_core_field_offset_on_kernel_type(features_o: Path) -> None:
    pid_of = _by_name(features_o)["pid_of"]
    load = next(i for _, i in pid_of.insns() if i.kind is IKind.LOAD)
    if os.path.exists(VMLINUX):
        vmlinux = parse_btf(Path(VMLINUX).read_bytes())
        task = vmlinux.find("task_struct", Kind.STRUCT)
        assert task is not None
        (pid,) = [m for m in vmlinux.type(task).members() if vmlinux.string(m.name_off) == "pid"]
        assert load.off == pid.bit_offset // 8 != 0
        assert pid_of.core_relos == ()
    else:
        assert load.off == 0
        assert [(r.pc, r.access, r.kind) for r in pid_of.core_relos] == [(1, "0:0", 0)]


def test_object_name_and_internal_names() -> None:
    assert object_name("/x/my_object_name.bpf.o") == "my_object_name"
    assert internal_map_name("my_object_name", ".rodata") == "my_objec.rodata"
    assert internal_map_name("my_object_name", ".bss") == "my_objec.bss"
    assert internal_map_name("obj", ".rodata.str1.1") == ".rodata.str1.1"
    assert internal_map_name("a-b", ".data") == "a_b.data"


def test_load_path_dispatches_on_magic(features_o: Path, tmp_path: Path) -> None:
    renamed = tmp_path / "features.object"
    shutil.copy(features_o, renamed)
    assert [p.name for p in load_path(str(renamed))] == ["prog", "other", "pid_of"]


SIMPLE = """
#define SEC(name) __attribute__((section(name), used))
int counter = 1;
static __attribute__((noinline)) int twice(int x) { return x * 2 + counter; }
SEC("tc") int simple(void *ctx) { return twice(counter) > 3; }
char LICENSE[] SEC("license") = "GPL";
"""


def test_same_instruction_count_as_bpftool(compile_c: Callable[[str, str], Path]) -> None:
    """libbpf (through bpftool) hands the kernel as many instructions as load_object assembles."""
    bpftool = shutil.which("bpftool")
    if bpftool is None or os.geteuid() != 0 or not os.path.isdir("/sys/fs/bpf"):
        pytest.skip("needs bpftool, root and bpffs")
    obj = compile_c(SIMPLE, "simple")
    (prog,) = load_object(str(obj))
    pin = Path("/sys/fs/bpf") / f"bakeoff_load_test_{os.getpid()}"
    done = subprocess.run([bpftool, "prog", "load", str(obj), str(pin)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"the kernel refused the object: {done.stderr.strip()[-200:]}")
    try:
        shown = subprocess.run(
            [bpftool, "--json", "prog", "show", "pinned", str(pin)], capture_output=True, text=True, check=True
        )
    finally:
        pin.unlink()
    assert json.loads(shown.stdout)["bytes_xlated"] // 8 == len(prog.slots)


HIDDEN = """
#define SEC(name) __attribute__((section(name), used))
__attribute__((noinline, visibility("hidden"))) int helper(int x) { return x + 1; }
__attribute__((noinline)) int shown(int x) { return x + 2; }
SEC("tc") int p(void *ctx) { return helper((long)ctx) + shown((long)ctx); }
"""


def test_hidden_global_function_is_static(compile_c: Callable[[str, str], Path]) -> None:
    (prog,) = load_object(str(compile_c(HIDDEN, "hidden")))
    linkage = {s.name: s.linkage for s in prog.subprogs}
    assert linkage == {"p": Linkage.GLOBAL, "helper": Linkage.STATIC, "shown": Linkage.GLOBAL}
    btf = parse_btf(prog.btf)
    helper, shown = btf.find("helper", Kind.FUNC), btf.find("shown", Kind.FUNC)
    assert helper is not None and shown is not None
    assert (btf.type(helper).linkage, btf.type(shown).linkage) == (0, 1)


CORPUS_OBJ = sorted((Path(__file__).resolve().parents[2] / "programs" / "obj").glob("*.o"))


@pytest.mark.parametrize("path", CORPUS_OBJ, ids=[p.name for p in CORPUS_OBJ])
def test_corpus_objects_load(path: Path) -> None:
    progs = load_object(str(path))
    assert progs
    for prog in progs:
        if prog.btf:  # objects built without -g have no func_info
            assert [f.pc for f in prog.func_info] == [s.start for s in prog.subprogs]
        assert prog.subprogs[-1].end == len(prog.slots)
        assert all(0 <= li.pc < len(prog.slots) for li in prog.line_info)
        for pc, insn in prog.insns():
            if insn.kind is IKind.CALL and insn.src == op.PSEUDO_CALL:
                assert insn.jump_target(pc) in {s.start for s in prog.subprogs}
            if insn.kind is IKind.CALL and insn.src == op.PSEUDO_KFUNC_CALL:
                assert 0 <= insn.imm < len(prog.kfuncs)


def test_depth_first_order_and_deep_chains(compile_c: Callable[[str, str], Path]) -> None:
    order = """
#define SEC(name) __attribute__((section(name), used))
#define N __attribute__((noinline))
static N int c(int x) { return x ^ 3; }
static N int b(int x) { return x + 2; }
static N int a(int x) { return c(x) * 5; }
SEC("tc") int p(void *ctx) { long x = (long)ctx; return a(x) + b(x); }
"""
    (prog,) = load_object(str(compile_c(order, "order")))
    assert [s.name for s in prog.subprogs] == ["p", "a", "c", "b"]
    depth = 1200  # deeper than Python's recursion limit allows a recursive walk
    chain = [f"static __attribute__((noinline)) int f{i}(int x) {{ return f{i + 1}(x) + {i}; }}" for i in range(depth)]
    chain.reverse()
    text = "\n".join(
        ["#define SEC(name) __attribute__((section(name), used))"]
        + [f"static int f{i}(int x);" for i in range(depth + 1)]
        + [f"static __attribute__((noinline)) int f{depth}(int x) {{ return x; }}", *chain]
        + ['SEC("tc") int p(void *ctx) { return f0((long)ctx); }']
    )
    (deep,) = load_object(str(compile_c(text, "deep")))
    # (clang may fold the innermost function into its caller)
    assert [s.name for s in deep.subprogs][: depth + 1] == ["p"] + [f"f{i}" for i in range(depth)]
