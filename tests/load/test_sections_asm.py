"""Section names to program types; assembly files to Programs."""

from __future__ import annotations

from pathlib import Path

import pytest

from framework.errors import InputError
from framework.isa import opcodes as op
from framework.load import load_path
from framework.load.program import Linkage
from framework.platform.sections import map_type_name, match_section


@pytest.mark.parametrize(
    ("name", "prog_type", "attach", "target"),
    [
        ("tc", "sched_cls", None, None),
        ("tc/ingress", "sched_cls", "tcx_ingress", None),
        ("tcx/egress", "sched_cls", "tcx_egress", None),
        ("classifier", "sched_cls", None, None),
        ("xdp", "xdp", "xdp", None),
        ("syscall", "syscall", None, None),
        ("socket", "socket_filter", None, None),
        ("cgroup_skb/ingress", "cgroup_skb", "cgroup_inet_ingress", None),
        ("cgroup_skb/egress", "cgroup_skb", "cgroup_inet_egress", None),
        ("fentry/bpf_fentry_test1", "tracing", "trace_fentry", "bpf_fentry_test1"),
        ("fexit/do_exit", "tracing", "trace_fexit", "do_exit"),
        ("fentry.s/x", "tracing", "trace_fentry", "x"),
        ("tp_btf/sched_switch", "tracing", "trace_raw_tp", "sched_switch"),
        ("raw_tp/sys_enter", "raw_tracepoint", None, "sys_enter"),
        ("tracepoint/syscalls/sys_enter_x", "tracepoint", None, "syscalls/sys_enter_x"),
        ("kprobe/do_unlinkat", "kprobe", None, "do_unlinkat"),
        ("struct_ops/test_1", "struct_ops", None, "test_1"),
        ("lsm/file_open", "lsm", "lsm_mac", "file_open"),
        ("perf_event", "perf_event", None, None),
        ("sk_lookup", "sk_lookup", "sk_lookup", None),
        ("sockops", "sock_ops", "cgroup_sock_ops", None),
        # libbpf: a "?" prefix only turns autoload off
        ("?tc", "sched_cls", None, None),
        ("?fentry/do_exit", "tracing", "trace_fentry", "do_exit"),
    ],
)
def test_section_defs(name: str, prog_type: str, attach: str | None, target: str | None) -> None:
    m = match_section(name)
    assert m is not None
    assert (m.prog_type, m.expected_attach_type, m.attach_to) == (prog_type, attach, target)


@pytest.mark.parametrize(
    ("name", "prog_type"),
    [  # libbpf 0.x matched its SEC_SLOPPY_PFX entries by prefix alone (the kernel's older samples)
        ("xdp_fwd", "xdp"),
        ("socket1", "socket_filter"),
        ("socket/3", "socket_filter"),
        ("cgroup/sock1", "cgroup_sock"),
        ("classifier_ingress", "sched_cls"),
    ],
)
def test_legacy_section_names_match_by_prefix_and_say_so(name: str, prog_type: str) -> None:
    m = match_section(name)
    assert m is not None and (m.prog_type, m.legacy) == (prog_type, True)
    exact = match_section("xdp")
    assert exact is not None and not exact.legacy


def test_unknown_sections() -> None:
    assert match_section("filter") is None  # no libbpf entry has it as a prefix (suricata's own loader)
    assert match_section("tcx") is None  # "tc" is no SEC_SLOPPY_PFX entry
    assert match_section("tcfoo") is None  # "tc" is exact in every libbpf
    assert match_section("fentryx") is None
    assert match_section("") is None
    assert map_type_name(1) == "hash" and map_type_name(27) == "ringbuf" and map_type_name(999) is None


ASM = """\
# program: asm_prog
# section: tc
# map: name=m type=hash key=4 value=8 max_entries=4
# kfunc: bpf_throw
# exception_cb: cb
    r6 = r1
    r1 = m ll
    call helper
    exit
helper:
    r0 = 0
    call bpf_throw
    exit
cb:
    r0 = r1
    exit
"""


def test_assembly_file(tmp_path: Path) -> None:
    path = tmp_path / "a.s"
    path.write_text(ASM)
    (prog,) = load_path(str(path))
    assert (prog.name, prog.section, prog.prog_type) == ("asm_prog", "tc", "sched_cls")
    assert [(s.name, s.start, s.end, s.linkage, s.is_exception_cb) for s in prog.subprogs] == [
        ("asm_prog", 0, 5, Linkage.GLOBAL, False),
        ("helper", 5, 8, Linkage.STATIC, False),
        ("cb", 8, 10, Linkage.GLOBAL, True),
    ]
    ld = prog.slots[1]
    assert ld is not None and (ld.src, ld.imm) == (op.PSEUDO_MAP_IDX, 0)
    kcall = prog.slots[6]
    assert kcall is not None and (kcall.src, kcall.imm) == (op.PSEUDO_KFUNC_CALL, 0)
    assert prog.kfuncs == ("bpf_throw",) and prog.maps[0].map_type == "hash"
    assert prog.symbols[5] == "helper"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# section: tc\n    call bpf_nothing\n    exit\n", "unknown kfunc 'bpf_nothing'"),
        ("# section: tc\n    r1 = nomap ll\n    exit\n", "unknown symbol 'nomap'"),
        ("# section: tc\n    r0 = \n", ""),
        ("    exit\n", "no '# section:'"),
        ("# section: tc\n# map: name=m type=nope\n    exit\n", "unknown map type"),
        ("# program: p\n# type: tc\n    exit\n", ":2: unknown program type 'tc'"),
    ],
)
def test_bad_assembly(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.s"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        load_path(str(path))
    assert str(err.value).startswith(f"{path}:")
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("line", "reg"),
    [
        ("r11 = 1", 11),
        ("r1 = r12", 12),
        ("w13 += w1", 13),
        ("r0 = *(u64 *)(r14 - 8)", 14),
        ("*(u64 *)(r10 - 8) = r15", 15),
        ("if r11 > 3 goto +0", 11),
        ("r11 = 5 ll", 11),
        ("lock *(u64 *)(r12 + 0) += r1", 12),
    ],
)
def test_register_above_r10(tmp_path: Path, line: str, reg: int) -> None:
    """Only r0-r10 exist: an instruction naming r11-r15 is refused at its line (the kernel's
    check_reg_arg would say R11 is invalid; r11 is BPF_REG_AX, the kernel's own)."""
    path = tmp_path / "regs.s"
    path.write_text(f"# section: tc\n    r0 = 0\n    {line}\n    exit\n")
    with pytest.raises(InputError) as err:
        load_path(str(path))
    assert str(err.value).startswith(f"{path}:3: invalid register r{reg} "), str(err.value)
