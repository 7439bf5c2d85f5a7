"""The project's verifier beside the running kernel's, program by program (`kernel-check --compare`).

For each program: both verdicts, both last messages, both stack depths and processed
instruction counts, and how they relate. `Agreement` orders the outcomes worst first, so a
report lists disagreements before agreements:

- `accepts-refused`: the project accepts a program the kernel refuses (the one error a
  verifier model must never make);
- `refuses-accepted`: the project refuses (by a kernel rule) a program the kernel loads;
- `unsupported`: the project cannot judge: it names what it does not model;
- `other-message`: both refuse, for different reasons;
- `same`: the same verdict (and, for a refusal, the same last line).

`summary` gives the figure the README quotes: of the programs the kernel loads, how many the
project accepts too, how many it cannot judge, and how many it wrongly refuses.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from framework.errors import InputError
from framework.load.program import Program
from framework.oracle.record import KernelRecord, record, refused_before_verifying
from framework.verify import Analysis, Verdict, verify

__all__ = ["Agreement", "Pairing", "Summary", "pair", "side_by_side", "summary"]


class Agreement(enum.Enum):
    ACCEPTS_REFUSED = "accepts-refused"
    REFUSES_ACCEPTED = "refuses-accepted"
    UNSUPPORTED = "unsupported"
    OTHER_MESSAGE = "other-message"
    SAME = "same"

    @property
    def rank(self) -> int:
        return list(Agreement).index(self)


@dataclass(frozen=True, slots=True)
class Pairing:
    """One program, verified by the project and loaded by the kernel."""

    source: str  # the object's path, as given
    program: str
    verdict: str  # the project's: accepted, rejected, unsupported
    message: str | None
    stack_depth: tuple[int, ...]
    insns_processed: int
    kernel_verdict: str  # accepted, rejected
    kernel_message: str | None
    kernel_stack_depth: tuple[int, ...]
    kernel_insns_processed: int | None
    missing: str | None = None  # unsupported: the kind and name of what is not modelled

    @property
    def agreement(self) -> Agreement:
        if self.verdict == "unsupported":
            return Agreement.UNSUPPORTED
        if self.verdict == "accepted":
            return Agreement.SAME if self.kernel_verdict == "accepted" else Agreement.ACCEPTS_REFUSED
        if self.kernel_verdict == "accepted":
            return Agreement.REFUSES_ACCEPTED
        return Agreement.SAME if self.message == self.kernel_message else Agreement.OTHER_MESSAGE

    def to_json(self) -> dict[str, object]:
        return {
            "object": self.source,
            "program": self.program,
            "agreement": self.agreement.value,
            "verdict": self.verdict,
            "message": self.message,
            "stack_depth": list(self.stack_depth),
            "insns_processed": self.insns_processed,
            "kernel_verdict": self.kernel_verdict,
            "kernel_message": self.kernel_message,
            "kernel_stack_depth": list(self.kernel_stack_depth),
            "kernel_insns_processed": self.kernel_insns_processed,
            "missing": self.missing,
        }


def pair(source: str, analysis: Analysis, rec: KernelRecord) -> Pairing:
    return Pairing(
        source=source,
        program=analysis.program,
        verdict=analysis.verdict.value,
        message=analysis.message,
        stack_depth=analysis.stack_depth if analysis.verdict is Verdict.ACCEPTED else (),
        insns_processed=analysis.insns_processed,
        kernel_verdict=rec.verdict,
        kernel_message=rec.message,
        kernel_stack_depth=rec.stack_depth,
        kernel_insns_processed=rec.insns_processed,
        missing=f"{analysis.missing.kind} {analysis.missing.name}" if analysis.missing else None,
    )


def side_by_side(source: str, programs: Sequence[Program]) -> list[Pairing]:
    """Each program verified (under stock) and loaded by the running kernel, in the object's order."""
    out = []
    for p in programs:
        rec = record(p)
        refused = refused_before_verifying(p, rec)
        if refused is not None:  # no verifier verdict to compare with: counted as not compared
            raise InputError(source, f"{p.name}: {refused}")
        out.append(pair(source, verify(p), rec))
    return out


def ordered(pairings: Iterable[Pairing]) -> list[Pairing]:
    """Disagreements first (worst first), then by object and program."""
    return sorted(pairings, key=lambda p: (p.agreement.rank, p.source, p.program))


@dataclass(frozen=True, slots=True)
class Summary:
    programs: int
    kernel_loads: int  # programs the kernel accepts
    same_on_loaded: int  # of those, the project accepts too
    unsupported_on_loaded: int  # of those, the project cannot judge
    refused_on_loaded: int  # of those, the project refuses by a rule (a bug in the model)
    accepts_refused: int  # programs the kernel refuses and the project accepts (must be 0)
    by_agreement: tuple[tuple[str, int], ...]
    missing: tuple[tuple[str, int], ...]  # what the unsupported programs need, most frequent first

    def lines(self) -> list[str]:
        pct = 100.0 * self.same_on_loaded / self.kernel_loads if self.kernel_loads else 0.0
        out = [
            f"{self.programs} program(s); the kernel loads {self.kernel_loads}: the project accepts "
            f"{self.same_on_loaded} of them ({pct:.1f}%), cannot judge {self.unsupported_on_loaded} (unsupported), "
            f"refuses {self.refused_on_loaded}; it accepts {self.accepts_refused} the kernel refuses",
            "by agreement: " + ", ".join(f"{k} {n}" for k, n in self.by_agreement),
        ]
        if self.missing:
            out.append("unsupported, by what is missing: " + ", ".join(f"{k} ({n})" for k, n in self.missing))
        return out


def summary(pairings: Sequence[Pairing]) -> Summary:
    loaded = [p for p in pairings if p.kernel_verdict == "accepted"]
    counts = Counter(p.agreement.value for p in pairings)
    return Summary(
        programs=len(pairings),
        kernel_loads=len(loaded),
        same_on_loaded=sum(1 for p in loaded if p.verdict == "accepted"),
        unsupported_on_loaded=sum(1 for p in loaded if p.verdict == "unsupported"),
        refused_on_loaded=sum(1 for p in loaded if p.verdict == "rejected"),
        accepts_refused=counts[Agreement.ACCEPTS_REFUSED.value],
        by_agreement=tuple((a.value, counts[a.value]) for a in Agreement if counts[a.value]),
        missing=tuple(Counter(p.missing for p in pairings if p.missing).most_common()),
    )
