"""The project's encoder and printer against LLVM 19 itself.

- encoder: `llvm-mc-19 -show-encoding` on the LLVM text of every form LLVM 19 can
  assemble gives the bytes `Insn.encode` gives;
- printer: `llvm-objdump-19 -d --mcpu=v4` on objects (every specimen as raw bytes,
  objects built here from C and assembly, and every programs/obj/*.o) prints what
  `decode` + `llvm_syntax.format_insn` print, instruction for instruction.

Named exceptions: load-acquire/store-release (`LLVM21_ONLY`: LLVM 19 cannot
assemble them, and llvm-objdump-19 prints `<unknown>` or misreads W/DW
load-acquire as `lock ... += r`), plus, for specimens only, the fields LLVM has no
operand for (see `llvm19.llvm19_assembles`).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from framework.isa import opcodes as op
from framework.isa.decode import decode, iter_insns
from framework.isa.insn import Insn, make
from framework.isa.llvm_asm import parse_line
from framework.isa.llvm_syntax import format_insn
from framework.isa.opcodes import SPECS, Kind

from .llvm19 import (
    CLANG,
    LLVM_MC,
    compare_object,
    llvm19_assembles,
    llvm19_prints_exactly,
    mc_encodings,
    needs_llvm,
    objdump,
    raw_object,
    report,
)
from .specimens import LLVM21_ONLY, LLVM_LOSSY, insns, specimens

pytestmark = [needs_llvm, pytest.mark.toolchain]

DATA = Path(__file__).parent / "data"
CORPUS = sorted((Path(__file__).parents[2] / "programs" / "obj").glob("*.o"))


def test_llvm21_only_forms_are_the_acquire_release_family() -> None:
    assert {s.name for s in SPECS if s.imm in (op.LOAD_ACQ, op.STORE_REL)} == LLVM21_ONLY
    assert len(LLVM21_ONLY) == 8


def _check_encodings(batch: list[Insn]) -> None:
    """The project's assembler (parse_line + encode) and llvm-mc-19 give the same bytes for each text."""
    texts = [format_insn(i) for i in batch]
    for insn, text, got in zip(batch, texts, mc_encodings(texts), strict=True):
        ours = parse_line(text)
        assert isinstance(ours, Insn), text
        assert got == ours.encode(), f"{text!r}: llvm-mc-19 {got.hex()} != ours {ours.encode().hex()}"
        if insn.spec.name not in LLVM_LOSSY:
            assert got == insn.encode(), f"{text!r}: llvm-mc-19 {got.hex()} != {insn.encode().hex()}"


def test_encoder_matches_llvm_mc_for_every_spec() -> None:
    batch = [i for s in SPECS for i in specimens(s) if llvm19_assembles(i)]
    covered = {i.spec.name for i in batch}
    assert covered == {s.name for s in SPECS} - LLVM21_ONLY, "every form LLVM 19 can assemble is checked"
    _check_encodings(batch)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(insns(), min_size=50, max_size=200))
def test_encoder_matches_llvm_mc_random(batch: list[Insn]) -> None:
    _check_encodings([i for i in batch if llvm19_assembles(i)])


def test_llvm_mc_rejects_llvm21_syntax() -> None:
    """The named exception is real: LLVM 19 cannot assemble load-acquire/store-release."""
    for name in sorted(LLVM21_ONLY):
        text = format_insn(next(i for s in SPECS if s.name == name for i in specimens(s)))
        result = subprocess.run(
            [LLVM_MC, "-triple", "bpf", "-mcpu=v4", "-show-encoding"], input=text + "\n", capture_output=True, text=True
        )
        assert "error" in result.stderr, f"llvm-mc-19 assembled {text!r}: the exception can go"


def _raw_mismatches(code: bytes, path: Path, mcpu: str | None = "v4") -> list[str]:
    listing = objdump(raw_object(code, path), mcpu)[".text"]
    problems = []
    for pc, insn in iter_insns(decode(code)):
        ours = format_insn(insn, alu32=mcpu in ("v3", "v4"))
        if llvm19_prints_exactly(insn) and listing.get(pc) != ours:
            problems.append(f"{path.name}:.text:{pc}: llvm-objdump-19 {listing.get(pc)!r} != ours {ours!r}")
    return problems


@pytest.mark.parametrize("mcpu", [None, "v1", "v2", "v3", "v4"], ids=lambda cpu: cpu or "default")
def test_printer_matches_objdump_for_every_specimen(tmp_path: Path, mcpu: str | None) -> None:
    """Under each cpu: without ALU32 (the tool's default, v1, v2) 32-bit loads and stores name r-registers."""
    code = b"".join(i.encode() for s in SPECS for i in specimens(s))
    assert not _raw_mismatches(code, tmp_path / "specimens.o", mcpu)


def test_objdump_misreads_llvm21_forms(tmp_path: Path) -> None:
    """What LLVM 19 prints for the named exceptions: never our (LLVM 21) text."""
    batch = [i for s in SPECS if s.name in LLVM21_ONLY for i in specimens(s)]
    code = b"".join(i.encode() for i in batch)
    listing = objdump(raw_object(code, tmp_path / "acq_rel.o"))[".text"]
    for pc, insn in enumerate(batch):
        text = listing.get(pc, "")
        assert text != format_insn(insn)
        assert text in ("", "<unknown>") or text.startswith("lock "), text


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(insns(), min_size=50, max_size=300), st.sampled_from([None, "v4"]))
def test_printer_matches_objdump_random(
    tmp_path_factory: pytest.TempPathFactory, batch: list[Insn], mcpu: str | None
) -> None:
    code = b"".join(i.encode() for i in batch)
    problems = _raw_mismatches(code, tmp_path_factory.mktemp("random") / "random.o", mcpu)
    assert not problems, "\n".join(problems[:20])


@pytest.fixture(scope="module")
def built_objects(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Objects compiled here from tests/isa/data, so the comparison is meaningful without a corpus."""
    out = tmp_path_factory.mktemp("objs")
    objects = []
    for source in sorted(DATA.glob("*.c")):
        for opt in ("-O2", "-O0"):
            obj = out / f"{source.stem}{opt}.o"
            subprocess.run(
                [CLANG, "-target", "bpf", "-mcpu=v4", opt, "-g", "-c", str(source), "-o", str(obj)], check=True
            )
            objects.append(obj)
    for source in sorted(DATA.glob("*.s")):
        obj = out / f"{source.stem}.o"
        subprocess.run(
            [LLVM_MC, "-triple", "bpf", "-mcpu=v4", "-filetype=obj", str(source), "-o", str(obj)], check=True
        )
        objects.append(obj)
    return objects


def test_printer_matches_objdump_on_built_objects(built_objects: list[Path]) -> None:
    total = 0
    for obj in built_objects:
        mismatches, compared = compare_object(obj)
        assert not mismatches, report(mismatches)
        assert compared > 0, f"{obj.name}: no instructions compared"
        total += compared
    assert total > 200


def test_built_objects_cover_many_forms(built_objects: list[Path]) -> None:
    """The objects built here are not trivial: they hold most instruction kinds."""
    from .llvm19 import executable_sections

    kinds = set()
    for obj in built_objects:
        for _, data in executable_sections(obj):
            kinds |= {insn.kind for _, insn in iter_insns(decode(data))}
    assert len(kinds) >= 13, sorted(k.value for k in kinds)


def test_comparison_reports_object_section_pc_and_both_texts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A printer bug must fail with where it is and both texts: plant one and look."""
    from . import llvm19

    code = make(op.JMP | op.EXIT).encode() + make(op.ALU64 | op.ADD | op.K, 1, imm=5).encode()
    obj = raw_object(code, tmp_path / "planted.o")
    assert compare_object(obj) == ([], 2)

    def buggy(insn: Insn) -> str:
        return "r1 += 5" if insn.kind is not Kind.EXIT else format_insn(insn)

    monkeypatch.setattr(llvm19, "format_insn", buggy)
    mismatches, _ = compare_object(obj)
    assert [str(m) for m in mismatches] == ["planted.o:.text:1: llvm-objdump-19 'r1 += 0x5' != ours 'r1 += 5'"]


@pytest.mark.skipif(not CORPUS, reason="no objects under programs/obj yet (the corpus builds them)")
@pytest.mark.parametrize("obj", CORPUS, ids=[p.name for p in CORPUS])
def test_printer_matches_objdump_on_corpus(obj: Path) -> None:
    mismatches, compared = compare_object(obj)
    assert not mismatches, report(mismatches)
    assert compared > 0
