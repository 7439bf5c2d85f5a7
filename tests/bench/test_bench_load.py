"""The framework's own speed: loading and disassembling the corpus (pytest-benchmark, `tox -e bench`)."""

from __future__ import annotations

from pathlib import Path

from pytest_benchmark.fixture import BenchmarkFixture

from framework.isa.decode import decode
from framework.isa.llvm_syntax import format_insn
from framework.load import load_path

OBJ = Path(__file__).resolve().parents[2] / "programs" / "obj"


def _load_corpus() -> int:
    return sum(len(load_path(str(p))) for p in sorted(OBJ.glob("*.o")))


def test_load_corpus(benchmark: BenchmarkFixture) -> None:
    """ELF, BTF, BTF.ext, relocations and subprog appending for every corpus object."""
    assert benchmark(_load_corpus) >= 40


def test_decode_and_print(benchmark: BenchmarkFixture) -> None:
    """Decoding and LLVM-printing every instruction of the corpus."""
    programs = [p for o in sorted(OBJ.glob("*.o")) for p in load_path(str(o))]
    code = [b"".join(i.encode() for _, i in p.insns()) for p in programs]

    def work() -> int:
        return sum(len(format_insn(i)) for blob in code for i in decode(blob) if i is not None)

    assert benchmark(work) > 0
