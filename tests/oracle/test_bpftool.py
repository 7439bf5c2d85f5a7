"""Our loader's verdict and message equal bpftool's (libbpf 1.1) on every corpus object it can load.

bpftool pins what it loads, so the test mounts a private bpffs in a temporary
directory, removes every pin after each load and unmounts it at the end.
Objects with an exception callback are left out: libbpf 1.1 cannot load them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from framework.oracle.record import last_error_line, record

ROOT = Path(__file__).resolve().parents[2]
OBJECTS = sorted(p for p in (ROOT / "programs" / "obj").glob("*.o") if p.stem != "every_opcode")
_FAILED = re.compile(r"libbpf: prog '(?P<name>[^']+)': BPF program load failed")
_LOG = re.compile(r"-- BEGIN PROG LOAD LOG --\n(?P<log>.*?)-- END PROG LOAD LOG --", re.S)

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("bpf")]


@pytest.fixture(scope="module")
def bpffs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if shutil.which("bpftool") is None:
        pytest.skip("bpftool is not installed")
    where = tmp_path_factory.mktemp("bpffs")
    mounted = subprocess.run(["mount", "-t", "bpf", "bpf", str(where)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a private bpffs: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        try:
            for pin in where.glob("*/*"):  # our pins only; progs.debug and maps.debug belong to bpffs
                pin.unlink()
        finally:
            subprocess.run(["umount", str(where)], check=True)


def _bpftool_loadall(obj: Path, bpffs: Path) -> tuple[bool, str | None, str]:
    """(loaded, the failing program's name, its verifier log); every pin removed before returning."""
    pins = bpffs / obj.stem
    try:
        run = subprocess.run(["bpftool", "prog", "loadall", str(obj), str(pins)], capture_output=True, text=True)
    finally:
        if pins.exists():
            for pin in pins.iterdir():
                pin.unlink()
            pins.rmdir()
    if run.returncode == 0:
        return True, None, ""
    failed = _FAILED.search(run.stderr)
    log = _LOG.search(run.stderr)
    return False, failed["name"] if failed else None, log["log"] if log else run.stderr


@pytest.mark.parametrize("obj", OBJECTS, ids=[o.stem for o in OBJECTS])
def test_same_verdict_and_message_as_bpftool(obj: Path, bpffs: Path) -> None:
    from framework.load.elf import load_object

    programs = load_object(str(obj))
    if any(p.exception_cb is not None for p in programs):
        pytest.skip("libbpf 1.1 cannot load exception callbacks (that is why the oracle exists)")
    ours = {p.name: record(p) for p in programs}
    loaded, failed, log = _bpftool_loadall(obj, bpffs)
    if loaded:
        assert all(r.verdict == "accepted" for r in ours.values()), {n: r.message for n, r in ours.items()}
        return
    assert failed in ours, f"bpftool failed outside the verifier:\n{log}"
    assert ours[failed].verdict == "rejected"
    assert ours[failed].message == last_error_line(log, 0)
