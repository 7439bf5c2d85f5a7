"""Unused instruction fields and atomics, generated from every form in framework/isa/opcodes.SPECS.

Found by tests/fuzz: the verifier accepted instructions whose unused fields were nonzero (a
load with an immediate, a register jump with an immediate, an exit naming a register), which
Linux refuses as "uses reserved fields", and checked load-acquire and store-release as if they
were read-modify-write atomics. Each variant below is one program: every field of every form set
nonzero in turn (used or not), every atomic through each kind of base register, aligned or not.
reserved_fields.toml holds the live kernel's first refusal (or "accepted") for each, with its
build; the verifier must give exactly that, and on the live kernel the kernel must too (a verdict
and a final message do not drift with a rebuild). Re-record with

    python -m tests.verify.test_reserved_fields record
"""

from __future__ import annotations

import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from framework.isa import opcodes as op
from framework.isa.insn import Insn, UnknownOpcode, make
from framework.isa.opcodes import SPECS, Kind, Spec
from framework.load.program import Linkage, Program, Subprog
from framework.oracle.check import available
from framework.oracle.identity import KernelBuild, running
from framework.verify import verify

# r0, r2-r5, r7-r9 = 1; r6 = fp-16; two stack slots written
_PROLOGUE = (
    *(make(op.ALU64 | op.MOV | op.K, r, 0, 0, 1) for r in (0, 2, 3, 4, 5, 7, 8, 9)),
    make(op.ALU64 | op.MOV | op.X, 6, 10),
    make(op.ALU64 | op.ADD | op.K, 6, 0, 0, -16),
    make(op.STX | op.MEM | op.DW, 10, 2, -8),
    make(op.STX | op.MEM | op.DW, 10, 2, -16),
)
_EPILOGUE = (make(op.ALU64 | op.MOV | op.K, 0, 0, 0, 0), make(op.JMP | op.EXIT))
AT = len(_PROLOGUE)  # the pc of the instruction under test
_MEMORY = (Kind.LOAD, Kind.STORE_REG, Kind.STORE_IMM)


@dataclass(frozen=True)
class Variant:
    name: str
    insn: Insn

    def program(self) -> Program:
        slots: list[Insn | None] = []
        last = () if self.insn.kind is Kind.EXIT else _EPILOGUE  # nothing may follow an exit
        for insn in (*_PROLOGUE, self.insn, *last):
            slots += [insn, *([None] if insn.slots == 2 else [])]
        return Program(
            name="reserved",
            section="tc",
            prog_type="sched_cls",
            slots=tuple(slots),
            subprogs=(Subprog("main", 0, len(slots), Linkage.GLOBAL),),
            source="<reserved>",
            sha256="",
        )


def _fields(spec: Spec) -> dict[str, int]:
    """A well-formed instance of `spec` in the prologue's registers (r6 the stack pointer)."""
    k = spec.kind
    dst = 6 if k in (Kind.STORE_REG, Kind.STORE_IMM) else 0 if k in (Kind.JA, Kind.MAY_GOTO, Kind.EXIT) else 2
    src = 6 if k is Kind.LOAD else 3 if (spec.code & op.X and k in (Kind.ALU, Kind.JCOND)) or k is Kind.STORE_REG else 0
    if k is Kind.LD_PKT:
        dst, src = 0, 3 if spec.code & 0xE0 == op.IND else 0
    return {"dst": dst, "src": src, "off": spec.off or 0, "imm": spec.imm or 0}


def _field_variants() -> list[Variant]:
    out = []
    for spec in SPECS:
        if spec.kind in (Kind.CALLX, Kind.LD_IMM64, Kind.CALL, Kind.ATOMIC):
            continue
        base = _fields(spec)
        for field, bump in (("imm", 7), ("off", 3), ("src", 1), ("dst", 1)):
            if (field == "imm" and spec.imm is not None) or (field == "off" and spec.off is not None):
                continue
            if field == "off" and spec.kind in (Kind.JA, Kind.JCOND, Kind.MAY_GOTO, *_MEMORY):
                continue  # the jump's target or the access's offset
            fields = dict(base)
            fields[field] = fields[field] + bump if field in ("imm", "off") else fields[field] or bump
            if fields == base:
                continue
            try:
                insn = make(spec.code, **fields)
            except UnknownOpcode:
                continue  # the decoder refuses it first
            out.append(Variant(f"{spec.name}-{field}", insn))
    for field, value in (("src", 3), ("dst", 1), ("off", 1)):  # a call of helper 7 (get_prandom_u32)
        fields = {"dst": 0, "src": 0, "off": 0, "imm": 7, field: value}
        out.append(Variant(f"call-{field}", make(op.JMP | op.CALL, **fields)))
    for field in ("hi_code", "hi_regs", "hi_off"):  # ld_imm64's second slot carries only the high imm
        out.append(Variant(f"ld_imm64-{field}", make(op.LD | op.IMM | op.DW, 2, 0, 0, 5, **{field: 1})))
    out.append(Variant("ld_imm64-off", make(op.LD | op.IMM | op.DW, 2, 0, 3, 5)))  # found by tests/fuzz
    return out


def _atomic_variants() -> list[Variant]:
    """Every atomic form through the stack (r6, r10), the context (r1) and a scalar (r3), aligned or not."""
    out = []
    for spec in SPECS:
        if spec.kind is not Kind.ATOMIC:
            continue
        for base in (6, 10, 1, 3):
            for off in (0, 3, 4, -8):
                dst, src = (2, base) if spec.imm == op.LOAD_ACQ else (base, 2)
                out.append(Variant(f"{spec.name}-r{base}{off:+d}", make(spec.code, dst, src, off, spec.imm)))
    return out


FIELD_VARIANTS = _field_variants()
ATOMIC_VARIANTS = _atomic_variants()


TRUTH = Path(__file__).with_name("reserved_fields.toml")


def _first_line(program: Program) -> str:
    analysis = verify(program, log_level=0)
    return "accepted" if analysis.accepted else analysis.message or ""


def _truth() -> tuple[KernelBuild, dict[str, str]]:
    table = tomllib.loads(TRUTH.read_text())
    return KernelBuild.from_table(table["kernel"]), table["first_line"]


VARIANTS = FIELD_VARIANTS + ATOMIC_VARIANTS


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.name for v in VARIANTS])
def test_the_verifier_gives_the_kernels_first_line(variant: Variant) -> None:
    assert _first_line(variant.program()) == _truth()[1][variant.name]


def test_the_table_is_of_these_variants_and_most_are_refusals() -> None:
    build, lines = _truth()
    assert sorted(lines) == sorted(v.name for v in VARIANTS) and build.btf_sha256
    kinds = {v.insn.kind for v in FIELD_VARIANTS if "reserved fields" in lines[v.name]}
    assert kinds >= {Kind.ALU, Kind.NEG, Kind.END, Kind.JA, Kind.JCOND, Kind.CALL, Kind.EXIT, Kind.LD_PKT}
    assert kinds >= {Kind.LOAD, Kind.STORE_REG, Kind.STORE_IMM}
    assert sum(line != "accepted" for line in lines.values()) > len(lines) // 2


def test_load_acquire_reads_through_src_and_store_release_writes_through_dst() -> None:
    by_name = {v.name: v for v in ATOMIC_VARIANTS}
    assert _first_line(by_name["load_acquire_dw-r6+0"].program()) == "accepted"  # r2 = load_acquire(fp-16)
    assert _first_line(by_name["load_acquire_b-r3+0"].program()) == "R3 invalid mem access 'scalar'"
    assert _first_line(by_name["store_release_dw-r1+0"].program()) == "invalid bpf_context access off=0 size=8"
    assert _first_line(by_name["load_acquire_w-r1+0"].program()) == "BPF_ATOMIC loads from R1 ctx is not allowed"
    assert _first_line(by_name["atomic_dw_add-r3+3"].program()) == "misaligned access off 1+0+3 size 8"


def _kernel_lines() -> dict[str, str]:
    from framework.oracle.record import record

    out = {}
    for variant in VARIANTS:
        rec = record(variant.program(), log_level=1)
        out[variant.name] = "accepted" if rec.verdict == "accepted" else rec.message or ""
    return out


@pytest.mark.kernel
def test_the_live_kernel_gives_the_recorded_first_lines() -> None:
    reason = available()
    if reason is not None:
        pytest.skip(reason)
    lines = _truth()[1]
    differ = {name: (lines[name], live) for name, live in _kernel_lines().items() if live != lines[name]}
    assert not differ, differ


def _record() -> int:
    reason = available()
    if reason is not None:
        print(f"cannot record: {reason}", file=sys.stderr)
        return 1
    build, lines = running(), _kernel_lines()
    out = ["# The live kernel's first refusal of each variant in test_reserved_fields.py (generated).", "[kernel]"]
    out += [f'{key} = "{value}"' for key, value in build.to_table().items()]
    out += ["", "[first_line]"]
    out += [f'"{name}" = {_toml_string(line)}' for name, line in lines.items()]
    TRUTH.write_text("\n".join(out) + "\n")
    print(f"{len(lines)} first lines of {build} written to {TRUTH}")
    return 0


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


if __name__ == "__main__":
    sys.exit(_record() if sys.argv[1:] == ["record"] else 2)
