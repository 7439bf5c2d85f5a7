"""The ELF, BTF and BTF.ext loader on damaged objects: one InputError naming the place, or a load.

Objects are a small clang-19 build (tests/load/features.bpf.c, as tests/load/conftest.py
builds it) and the committed corpus; each is damaged by flipping, overwriting, truncating or
inserting bytes, in the ELF headers and in the sections' bodies alike. What loads is also
verified and disassembled: the property is the same for every stage.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from framework.errors import MAX_MESSAGE, InputError

from .fuzzing import budget, run_cli

ROOT = Path(__file__).resolve().parents[2]
CORPUS = sorted((ROOT / "programs" / "obj").glob("*.o"))
FEATURES = ROOT / "tests" / "load" / "features.bpf.c"


@pytest.fixture(scope="module")
def objects(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    found = [p.read_bytes() for p in CORPUS[:6]]
    clang = shutil.which("clang-19")
    if clang is not None:
        out = tmp_path_factory.mktemp("fuzz_elf") / "features.o"
        cmd = [clang, "-target", "bpf", "-O2", "-g", "-c", str(FEATURES), "-o", str(out)]
        subprocess.run(cmd, check=True, capture_output=True)
        found.insert(0, out.read_bytes())
    if not found:
        pytest.skip("no object to damage (clang-19 missing and no corpus objects)")
    return found


_edit = st.tuples(
    st.sampled_from(["flip", "set", "truncate", "insert", "zero"]),
    st.integers(0, 2**20),
    st.binary(min_size=1, max_size=8),
)


def _damage(data: bytes, edits: list[tuple[str, int, bytes]], head_bias: bool) -> bytes:
    out = bytearray(data)
    for kind, at, chunk in edits:
        if not out:
            break
        at = at % (256 if head_bias and len(out) > 256 else len(out))  # the headers are where most damage bites
        if kind == "flip":
            out[at] ^= 1 << (chunk[0] % 8)
        elif kind == "set":
            out[at : at + len(chunk)] = chunk
        elif kind == "zero":
            out[at : at + len(chunk)] = bytes(len(chunk))
        elif kind == "truncate":
            del out[max(at, 1) :]
        else:
            out[at:at] = chunk
    return bytes(out)


@given(st.data(), st.lists(_edit, min_size=1, max_size=4), st.booleans())
@budget(150)
def test_damaged_object_is_refused_in_one_line(
    objects: list[bytes], data: st.DataObject, edits: list, head: bool
) -> None:
    from framework.load import load_path

    original = data.draw(st.sampled_from(objects))
    damaged = _damage(original, edits, head)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "damaged.o"
        path.write_bytes(damaged)
        try:
            programs = load_path(str(path))
        except InputError as exc:
            assert len(str(exc)) <= MAX_MESSAGE and "\n" not in str(exc), str(exc)[:400]
            return
        if programs:  # it loaded: the later stages must hold to the property too
            run_cli(["verify", "--log-level", "0", "--program", programs[0].name, str(path)])
            run_cli(["disasm", str(path)])


def test_no_python_error_is_caught_as_malformed_elf() -> None:
    """The reader checks its input itself: no `except IndexError` (or TypeError, AttributeError) hides a bug."""
    for name in ("elf_file.py", "elf.py", "btf.py", "btf_ext.py"):
        text = (ROOT / "framework" / "load" / name).read_text()
        for error in ("IndexError", "TypeError", "AttributeError", "KeyError", "struct.error"):
            assert f"except {error}" not in text and f" {error}," not in text and f", {error})" not in text, (
                name,
                error,
            )
