"""`resource-table`: Eduard Zingerman's runtime resource table (reply to the RFC, March 2024).

Where it comes from: the seed thread's reply proposing that, instead of static
descriptors, each subprog keep at the end of its stack a region of 16 bytes
(pointer, release function) per resource it can hold at once, zeroed on entry;
a record is pushed after each acquire and removed after each release, by kfunc
calls as the mail describes; at throw time the runtime walks every frame's
region and releases what is live.

Costs in principle: a push per acquire and a removal per release on the happy
path; 16 bytes of stack per peak simultaneous resource per subprog; no
metadata; a throw pays the walk and one release per live record. Refuses:
nothing beyond stock except that a throw no longer leaks (every reference has a
record wherever it is kept), and the reserved region counts against the
512-byte stack limits, so a program that fits only without it is refused with
the kernel's `combined stack size of N calls is X. Too large`. Lock, RCU,
preempt and IRQ sections stay refused, as in the RFC.

Built so far: the verifier's side and the stack the table reserves. The rewrite
that inserts the push and removal calls, their inline-store variant and the C
runtime are not built yet (`Plan.added_insns` is None, `runtime` is None).
"""

from __future__ import annotations

from framework import hookimpl
from framework.load.program import Program
from framework.plan import Plan
from framework.strategy import Strategy
from framework.verify.result import Analysis, ThrowSite

RECORD_BYTES = 16  # the mail's record: the resource and the function that releases it


class ResourceTable(Strategy):
    name = "resource-table"
    version = "0"
    summary = "Eduard's reply: 16 bytes per peak resource per subprog, records pushed and removed; walked at a throw."
    runtime = None  # its throw-time runtime is not built yet

    def __init__(self) -> None:
        self.peaks: dict[int, int] = {}

    def prepare(self, program: Program) -> Program:
        self.peaks = {}
        return program

    def releases_on_throw(self, site: ThrowSite) -> bool:
        return True  # every acquired reference has a record, wherever the program keeps it

    def on_peak_resources(self, subprog: int, peak: int) -> None:
        self.peaks[subprog] = peak

    def reserved_stack(self, subprog: int) -> int:
        return RECORD_BYTES * self.peaks.get(subprog, 0)

    def rewrite(self, program: Program, analysis: Analysis) -> Plan:
        extra = tuple(self.reserved_stack(i) for i in range(len(analysis.stack_depth)))
        return Plan(self.name, extra_stack=extra, added_insns=None)


@hookimpl
def register_strategies() -> list[Strategy]:
    return [ResourceTable()]
