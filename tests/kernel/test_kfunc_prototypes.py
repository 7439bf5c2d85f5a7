"""framework.platform.kfuncs' prototypes are the running kernel's: each kfunc's parameter count
and whether it returns void, read from the FUNC_PROTO vmlinux BTF gives it (check_kfunc_call
reads the same BTF to know how many registers a call passes and whether R0 is set)."""

from __future__ import annotations

import pytest

from framework.load.btf import Kind
from framework.platform.kfuncs import KFUNCS, NARGS, VOID

UNMERGED = {"bpf_unwind_resume"}  # the landing-pad series' kfunc: in no released kernel
KERNEL_KFUNCS = sorted(set(KFUNCS) - UNMERGED)


def test_the_table_names_a_count_for_every_kfunc_and_void_only_of_known_ones() -> None:
    assert set(NARGS) == set(KFUNCS) and set(KFUNCS) >= VOID
    assert all(KFUNCS[n].cite for n in KFUNCS) and len(KERNEL_KFUNCS) >= 25


@pytest.mark.parametrize("name", KERNEL_KFUNCS)
def test_each_kfunc_takes_and_returns_what_vmlinux_btf_says(name: str) -> None:
    from framework.oracle.vmlinux import VMLINUX_BTF, vmlinux_btf

    if not VMLINUX_BTF.is_file():
        pytest.skip("no /sys/kernel/btf/vmlinux to compare with")
    btf = vmlinux_btf()
    func = btf.find(name, Kind.FUNC)
    assert func is not None, f"{name} is not a function in this kernel's BTF"
    proto = btf.type(btf.type(func).type)
    assert proto.kind is Kind.FUNC_PROTO
    params = proto.params()
    assert len(params) == NARGS[name], f"{name}: {len(params)} parameters in BTF, {NARGS[name]} in the table"
    assert (proto.type == 0) == (name in VOID), f"{name}: BTF returns {'void' if proto.type == 0 else 'a value'}"
