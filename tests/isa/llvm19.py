"""Driving LLVM 19 as the oracle: llvm-mc to assemble, llvm-objdump to disassemble.

Tests that use these mark themselves with `needs_llvm`, which skips them with the
missing tool's name where LLVM 19 is not installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from framework.isa import opcodes as op
from framework.isa.decode import DecodeError, decode, iter_insns
from framework.isa.insn import Insn
from framework.isa.llvm_syntax import format_insn
from framework.isa.opcodes import Kind

from .specimens import LLVM21_ONLY

LLVM_MC = "llvm-mc-19"
OBJDUMP = "llvm-objdump-19"
CLANG = "clang-19"
_MISSING = [tool for tool in (LLVM_MC, OBJDUMP, CLANG) if shutil.which(tool) is None]
needs_llvm = pytest.mark.skipif(bool(_MISSING), reason=f"LLVM 19 tools not installed: {', '.join(_MISSING)}")


def llvm19_assembles(insn: Insn) -> bool:
    """Whether llvm-mc-19 accepts this instruction's LLVM text.

    Named exceptions, each a limit of LLVM 19, not of the project:
    - load-acquire/store-release: LLVM 21 syntax (`LLVM21_ONLY`);
    - `ld_pseudo` with a second-slot imm and LD_IND with an imm: LLVM has no
      operand for the field, so the project's printer adds one;
    - `gotol` beyond 16 bits: llvm-mc 19's parser checks the operand against the
      16-bit `goto` range ("operand is not an identifier or 16-bit signed integer").
    """
    if insn.spec.name in LLVM21_ONLY:
        return False
    if insn.kind is Kind.LD_IMM64 and insn.src != 0 and insn.imm_hi:
        return False
    if insn.kind is Kind.LD_PKT and insn.code & 0xE0 == op.IND and insn.imm:
        return False
    return not (insn.spec.name == "gotol" and not -(1 << 15) <= insn.imm < (1 << 15))


def llvm19_prints_exactly(insn: Insn) -> bool:
    """Whether llvm-objdump-19's text carries every field (see `llvm_syntax`'s lossy forms)."""
    if insn.spec.name in LLVM21_ONLY:
        return False
    if insn.kind is Kind.LD_IMM64 and insn.src != 0 and insn.imm_hi:
        return False
    return not (insn.kind is Kind.LD_PKT and insn.code & 0xE0 == op.IND and insn.imm)


def mc_encodings(lines: Sequence[str]) -> list[bytes]:
    """`llvm-mc-19 -triple bpf -mcpu=v4 -show-encoding`: the bytes of each line, in order."""
    result = subprocess.run(
        [LLVM_MC, "-triple", "bpf", "-mcpu=v4", "-show-encoding"],
        input="".join(line + "\n" for line in lines),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        raise AssertionError(f"llvm-mc-19 failed:\n{result.stderr}")
    found = re.findall(r"# encoding: \[([^\]]*)\]", result.stdout)
    if len(found) != len(lines):
        raise AssertionError(f"llvm-mc-19 gave {len(found)} encodings for {len(lines)} lines:\n{result.stdout}")
    return [bytes(int(b, 16) for b in enc.split(",")) for enc in found]


def raw_object(code: bytes, path: Path) -> Path:
    """An ELF object whose .text is exactly `code` (emitted with `.byte`, so any bytes)."""
    src = path.with_suffix(".s")
    rows = [f"\t.byte {','.join(str(b) for b in code[at : at + 8])}" for at in range(0, len(code), 8)]
    src.write_text("\t.text\n" + "\n".join(rows) + "\n")
    subprocess.run([LLVM_MC, "-triple", "bpf", "-mcpu=v4", "-filetype=obj", "-o", str(path), str(src)], check=True)
    return path


_SECTION = re.compile(r"^Disassembly of section (?P<name>.+):$")
_INSN = re.compile(r"^\s*(?P<pc>\d+):\t(?P<bytes>(?:[0-9a-f]{2} ?)+)\t(?P<text>.*)$")
_BRANCH_COMMENT = re.compile(r" <[^<>]*>$")


def objdump(path: Path, mcpu: str | None = "v4") -> dict[str, dict[int, str]]:
    """`llvm-objdump-19 -d --mcpu=v4` (or another cpu; None: the tool's default): section -> pc -> text
    (branch comment stripped)."""
    cpu = [f"--mcpu={mcpu}"] if mcpu else []
    out = subprocess.run([OBJDUMP, "-d", *cpu, str(path)], capture_output=True, text=True, check=True).stdout
    sections: dict[str, dict[int, str]] = {}
    current: dict[int, str] | None = None
    for line in out.splitlines():
        m = _SECTION.match(line)
        if m:
            current = sections.setdefault(m["name"], {})
            continue
        m = _INSN.match(line)
        if m and current is not None:
            current[int(m["pc"])] = _BRANCH_COMMENT.sub("", m["text"]).rstrip()
        elif re.match(r"^\s*\d+:\t", line) and current is not None:
            # a continuation line (bytes only) or an undecodable slot: keep it visible
            current.setdefault(int(line.split(":")[0]), "")
    return sections


@dataclass(frozen=True, slots=True)
class Mismatch:
    obj: str
    section: str
    pc: int
    llvm: str
    ours: str

    def __str__(self) -> str:
        return f"{self.obj}:{self.section}:{self.pc}: llvm-objdump-19 {self.llvm!r} != ours {self.ours!r}"


def executable_sections(path: Path) -> Iterable[tuple[str, bytes]]:
    with path.open("rb") as f:
        elf = ELFFile(f)
        for section in elf.iter_sections():
            if section["sh_type"] == "SHT_PROGBITS" and section["sh_flags"] & SH_FLAGS.SHF_EXECINSTR:
                yield section.name, section.data()


def compare_object(path: Path, allowed: Iterable[str] = LLVM21_ONLY) -> tuple[list[Mismatch], int]:
    """Disassemble each executable section both ways; mismatches, and instructions compared.

    `allowed` names the Specs whose LLVM 19 text may differ (the named exceptions).
    """
    allowed = frozenset(allowed)
    theirs = objdump(path)
    mismatches: list[Mismatch] = []
    compared = 0
    for name, data in executable_sections(path):
        listing = theirs.get(name, {})
        try:
            slots = decode(data)
        except DecodeError as exc:
            mismatches.append(Mismatch(path.name, name, exc.offset // 8, listing.get(exc.offset // 8, "?"), str(exc)))
            continue
        for pc, insn in iter_insns(slots):
            ours = format_insn(insn)
            llvm = listing.get(pc, "<missing>")
            compared += 1
            if llvm != ours and insn.spec.name not in allowed:
                mismatches.append(Mismatch(path.name, name, pc, llvm, ours))
        extra = sorted(
            set(listing) - {pc for pc, _ in iter_insns(slots)} - {pc + 1 for pc, i in iter_insns(slots) if i.slots == 2}
        )
        for pc in extra:
            mismatches.append(Mismatch(path.name, name, pc, listing[pc], "<no instruction at this pc>"))
    return mismatches, compared


def report(mismatches: Sequence[Mismatch], limit: int = 25) -> str:
    lines = [str(m) for m in mismatches[:limit]]
    if len(mismatches) > limit:
        lines.append(f"... and {len(mismatches) - limit} more")
    return "\n".join(lines)
