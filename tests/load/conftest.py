"""Compile small C programs with clang-19 for the loader's tests."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.fixture
def compile_c(tmp_path: Path) -> Callable[[str, str], Path]:
    """compile_c(source_text, stem) -> path of `stem.o`, built with clang-19 -O2 -g."""
    clang = shutil.which("clang-19")
    if clang is None:
        pytest.skip("clang-19 is not installed (apt-get install clang-19)")

    def build(source: str, stem: str = "prog") -> Path:
        src = tmp_path / f"{stem}.bpf.c"
        src.write_text(source)
        out = tmp_path / f"{stem}.o"
        subprocess.run([clang, "-target", "bpf", "-O2", "-g", "-c", str(src), "-o", str(out)], check=True)
        return out

    return build


@pytest.fixture
def features_o(compile_c: Callable[[str, str], Path]) -> Path:
    return compile_c((HERE / "features.bpf.c").read_text(), "features")
