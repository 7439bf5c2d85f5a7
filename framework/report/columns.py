"""The results frame's columns, each with its unit and meaning: the one place every report,
`run --json` and the CSV read them from (DESIGN.md's "what each number means").

One row is one (program, strategy, case). A case is one run: an input as it goes (`case` is
the input's name) or a forced throwing point (`<input>/throw@<pc>`, `#<n>` when the n-th reach
of its guard, n > 1, was forced). A program the strategy refuses has one row, case `verify`, and no
run figures. Figures of a run that did not agree with its reference are left empty: a
disagreement is the verdict `mismatch`, never a number.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["COLUMNS", "Column", "by_name", "names"]


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    unit: str  # "" for names and verdicts
    meaning: str
    per: str = "case"  # "program": the same in every case of the (program, strategy); "case": the run's own
    dtype: str = ""  # the frame's pandas dtype: Int64 (nullable) where there is a unit, else string

    @property
    def pandas_dtype(self) -> str:
        return self.dtype or ("Int64" if self.unit else "string")


COLUMNS: tuple[Column, ...] = (
    Column("object", "", "the object's path relative to the corpus (or to the PATH given)", "program"),
    Column("object_sha256", "", "the object file's SHA-256, so two machines' rows name the same bytes", "program"),
    Column("program", "", "the program (its ELF section's function) in the object", "program"),
    Column("family", "", "its corpus family (its manifest's `family`, else the object's name)", "program"),
    Column("prog_type", "", "its program type, as libbpf names it from the section", "program"),
    Column("insns", "insns", "the program's size: BPF instructions as loaded, subprogs included", "program"),
    Column("strategy", "", "the cleanup strategy", "program"),
    Column("strategy_version", "", "the strategy's own version (a result names the code it measured)", "program"),
    Column("case", "", "the input, or the forced throwing point (`input/throw@pc`); `verify` when refused"),
    Column(
        "verdict",
        "",
        "accepted, rejected (by the verifier), mismatch (a run disagreed with its reference), "
        "timeout, unsupported or error (the strategy raised)",
    ),
    Column("reason", "", "why, in full: the verifier's message, the run's differences or the error"),
    Column("stack_bytes", "bytes", "the deepest call chain's stack as check_max_stack_depth sums it", "program"),
    Column("extra_stack_bytes", "bytes", "stack the strategy reserves, summed over subprogs", "program"),
    Column("metadata_bytes", "bytes", "the strategy's tables in their documented encoding", "program"),
    Column("code_growth_insns", "insns", "BPF instructions the strategy adds (or its compiler emits)", "program"),
    Column("jit_bytes", "bytes", "the JITed image with the strategy's code (no counters)", "program"),
    Column("stock_jit_bytes", "bytes", "the JITed image of the program as given, stock", "program"),
    Column("throw_pc", "pc", "the forced throwing point (empty: the input decided)"),
    Column("happy_insns", "x86 insns", "a run that returned: x86 instructions, the strategy's happy-path runtime in"),
    Column("happy_extra_insns", "x86 insns", "happy_insns minus stock's JIT of the same program on the same input"),
    Column(
        "throw_insns",
        "x86 insns",
        "a forced throw: the runtime's walk + lookup + release + landing pads "
        "(a throw an input makes itself is measured at its forced twin)",
    ),
    Column("throw_walk_insns", "x86 insns", "of which the frame walk every strategy shares"),
    Column("throw_lookup_insns", "x86 insns", "of which the strategy's lookup of what each frame holds"),
    Column("throw_release_insns", "x86 insns", "of which the releases"),
    Column("throw_pad_insns", "x86 insns", "of which landing pads' BPF, JITed (landing-pads)"),
    Column("exception_cb_insns", "x86 insns", "the exception callback's, after the unwind (not in throw_insns)"),
    Column("frames_walked", "frames", "BPF frames live at the throw (the reference run's)"),
    Column("held", "resources", "resources live at the throw, which an ideal cleanup releases (the reference's)"),
    Column("released", "resources", "resources the strategy's unwinder released"),
    Column("leaked", "resources", "resources still held when the run ended"),
    Column("double_released", "resources", "releases of what was already released"),
    Column("x86_stack_bytes", "bytes", "the run's x86 stack high-water mark below the entry rsp"),
    Column("retval", "", "what BPF_PROG_TEST_RUN would report (r0's low 32 bits); empty if stopped", dtype="Int64"),
    Column("reference_retval", "", "the interpreter's reference run's retval, same input and throw", dtype="Int64"),
    Column("agrees", "", "true when the run equals its reference (retval, throw, releases)", dtype="boolean"),
)

_BY_NAME = {c.name: c for c in COLUMNS}


def names() -> tuple[str, ...]:
    return tuple(c.name for c in COLUMNS)


def by_name(name: str) -> Column:
    return _BY_NAME[name]
