"""The kernel builds tests/verify is held to (held_to.toml), and re-holding it on the running kernel.

`[cases]` is the build on which every case of cases/ held exactly (test_cases_kernel.py);
`[model]` the build whose corpus truth the verifier's processed-instruction counts were
last within 25% of (test_verify_corpus.py). Against another build both follow
framework.oracle.drift's rule: verdict, last line and stack depth must hold, while
processed counts, register states and intermediate log lines are reported as drift.

    python -m tests.verify.held_to cases   # run every case here; rewrite its drifted processed
                                           # counts and register states; record this build
    python -m tests.verify.held_to model   # record the manifests' build, if the verifier is
                                           # within 25% of every corpus program there
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import tomlkit

from framework.oracle.drift import Figure
from framework.oracle.identity import KernelBuild, running
from framework.oracle.record import KernelRecord

from .cases_loader import CASES_DIR, VerifierCase

__all__ = ["HELD_TO", "REHOLD_CASES", "REHOLD_MODEL", "case_figures", "held_to", "last_line", "regs_at"]

HELD_TO = Path(__file__).resolve().parent / "held_to.toml"
REHOLD_CASES = "python -m tests.verify.held_to cases"
REHOLD_MODEL = "python -m tests.verify.held_to model"
TOLERANCE = 0.25


def held_to(which: str) -> KernelBuild:
    """`cases` or `model`: the build recorded for it."""
    return KernelBuild.from_table(tomlkit.parse(HELD_TO.read_text())[which])  # type: ignore[arg-type]


def _record_held_to(which: str, build: KernelBuild) -> None:
    doc = tomlkit.parse(HELD_TO.read_text())
    table = doc[which]  # updated in place: the comments around it stay
    fields = build.to_table()
    for key in [k for k in table if k not in fields]:  # type: ignore[union-attr]
        del table[key]  # type: ignore[union-attr]
    for key, value in fields.items():
        table[key] = value  # type: ignore[index]
    HELD_TO.write_text(tomlkit.dumps(doc))


# ------------------------------------------------------------------ what a case compares


def last_line(rec: KernelRecord) -> str | None:
    """The kernel's last line; a message printed without its newline (6.18's
    `insn %d cannot call exception cb directly`) runs into the statistics line."""
    if rec.message is None:
        return None
    return re.sub(r"verification time \d+ usec$", "", rec.message)


def regs_at(log: str, pc: int) -> dict[str, str]:
    """Register values the level-2 log prints after insn `pc` (`pc: (op) ... ; R0_w=... R1=...`)."""
    out: dict[str, str] = {}
    for line in log.splitlines():
        if line.startswith(f"{pc}: ") and ";" in line:
            out.update(_state(line.split(";", 1)[1]))
    return out


def _state(text: str) -> dict[str, str]:
    """`R0=scalar(smin=0,var_off=(0x0; 0x7)) R6_w=fp-8` -> {"r0": ..., "r6": ...}; parentheses may hold spaces."""
    out: dict[str, str] = {}
    for token in _split_top(text):
        m = re.fullmatch(r"(R\d+|fp-?\d+)(?:_[rw])?=(.+)", token)
        if m:
            out[m.group(1).lower()] = m.group(2)
    return out


def _split_top(text: str) -> list[str]:
    tokens, depth, cur = [], 0, ""
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if ch.isspace() and depth == 0:
            if cur:
                tokens.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        tokens.append(cur)
    return tokens


def case_figures(case: VerifierCase, rec: KernelRecord) -> list[Figure]:
    """Verdict, last line and stack depth must not drift; processed, register states and a
    `message` that is not the last line are intermediate figures of the log, and may."""
    out = [Figure("verdict", case.verdict, rec.verdict)]
    if case.verdict == "rejected":
        out.append(Figure("last line", case.last_line, last_line(rec)))
    if case.stack_depth is not None:
        out.append(Figure("stack_depth", list(case.stack_depth), list(rec.stack_depth)))
    if case.message is not None and (case.verdict == "accepted" or case.error_line is not None):
        found = next((ln for ln in rec.log.splitlines() if case.message in ln), None)
        out.append(Figure("log line", case.message, found, drifts=True, agrees=found is not None))
    if case.processed is not None:
        out.append(Figure("processed", case.processed, rec.insns_processed, drifts=True))
    if case.regs:
        assert case.regs_at is not None
        got = regs_at(rec.log, case.regs_at)
        out += [Figure(f"{reg} at {case.regs_at}", value, got.get(reg), drifts=True) for reg, value in case.regs]
    return out


# ------------------------------------------------------------------ re-holding


def _rehold_cases() -> int:
    from framework.oracle.check import available
    from framework.oracle.record import record

    from .cases_loader import NoCompiler, load_cases

    if (reason := available()) is not None:
        print(reason)
        return 2
    cases = load_cases()
    wrong: list[str] = []
    moved: dict[tuple[str, str], dict[str, object]] = {}
    for case in cases:
        try:
            program = case.program()
        except NoCompiler as exc:
            print(exc)
            return 2
        rec = record(program, log_level=2 if case.regs else 1)
        for fig in case_figures(case, rec):
            if not fig.differs:
                continue
            if not fig.drifts or fig.name == "log line":
                wrong.append(f"{case.id}: {fig}")
            elif fig.name == "processed":
                moved.setdefault((case.topic, case.name), {})["processed"] = rec.insns_processed
            else:
                moved.setdefault((case.topic, case.name), {})[fig.name.split()[0]] = fig.live
    if wrong:
        print("not re-held: these need a person (verdicts, last lines, stack depths or log lines moved):")
        print("\n".join(f"  {line}" for line in wrong))
        return 1
    for topic in sorted({t for t, _ in moved}):
        path = CASES_DIR / f"{topic}.toml"
        doc = tomlkit.parse(path.read_text())
        for table in doc["case"]:  # type: ignore[union-attr]
            for key, value in moved.get((topic, str(table["name"])), {}).items():
                if key == "processed":
                    table["processed"] = value
                else:
                    table["regs"][key] = value
        path.write_text(tomlkit.dumps(doc))
    _record_held_to("cases", running())
    print(f"{len(cases)} cases held to {running()}; {len(moved)} rewritten")
    return 0


def _rehold_model() -> int:
    from framework.load.corpus import corpus_entries, manifests
    from framework.verify import verify

    entries = [e for m in manifests() for e in corpus_entries(m)]
    builds = {KernelBuild.from_table(e.spec["kernel"]) for e in entries}
    misfits = []
    for e in entries:
        kernel, ours = e.spec["kernel"]["insns_processed"], verify(e.program).insns_processed
        if not (1 - TOLERANCE) * kernel <= ours <= (1 + TOLERANCE) * kernel:
            misfits.append(f"  {e.program.name}: verifier {ours}, kernel {kernel}")
    if misfits or len(builds) != 1:
        print(f"not re-held: the manifests are of {len(builds)} builds; outside 25%:", *misfits, sep="\n")
        return 1
    (build,) = builds
    _record_held_to("model", build)
    print(f"the verifier is held to {build}'s corpus truth")
    return 0


def main(argv: list[str]) -> int:
    if argv == ["cases"]:
        return _rehold_cases()
    if argv == ["model"]:
        return _rehold_model()
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
