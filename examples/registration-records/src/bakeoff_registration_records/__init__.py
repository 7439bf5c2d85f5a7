"""`registration-records`: a fifth design, from outside the RFC thread: registration records.

Where it comes from: the way exception handlers and cleanups are kept by setjmp/longjmp
libraries, by x86-32 SEH (a chain of EXCEPTION_REGISTRATION records, linked from fs:[0]) and
by Go before 1.13 (a `_defer` record per deferred call, taken from a pool by deferproc and
linked to the goroutine): a record is registered when a resource is taken and unregistered
when it is given back, so at a throw the list itself says what to release.

What it inserts (`rewrite`): after each acquire, `r1 = value; r2 = kind; r3 = r0; call
rr_push` (value is r0, or the slot's address for an iterator or dynptr; minus the node's
offset for a list pop or rbtree remove); before each release, `call rr_pop` with the value
in r1 already; before a list push or rbtree add, `r0 = node offset; call rr_pop_node`. The
calls run in the runtime (registration_records.c) and count as the happy path's `record`.

Costs in principle: those instructions and calls; no stack and no tables (the records live in
a pool of the runtime's, 24 bytes each, the most held at once); a release in LIFO order finds
its record at the head, any other walks the list; a throw releases the list from the head,
without looking any frame up. Refuses: what resource-table refuses (a resource kind the
kernel cannot release, an iterator or dynptr the records cannot follow); locks and sections
stay refused, as in the RFC.

This package is installed on its own (`pip install examples/registration-records`) and
registers through the `bakeoff.strategies` entry-point group, as any outside strategy does.
"""

from __future__ import annotations

from pathlib import Path

from framework.plugin_api import (
    RELEASABLE,
    Analysis,
    Fixed,
    Insn,
    Ledger,
    NativeImage,
    Plan,
    Program,
    RecordsResources,
    Strategy,
    add_imm,
    call_kfunc,
    hookimpl,
    insertions,
    kind_id,
    mov_imm,
    mov_reg,
)

__all__ = ["RegistrationRecords", "register_strategies"]

PUSH, POP, POP_NODE = "rr_push", "rr_pop", "rr_pop_node"  # registration_records.c


class RegistrationRecords(RecordsResources):
    """The acquire and release sites, and which throws release what they hold: RecordsResources."""

    name = "registration-records"
    version = "1"
    summary = "SEH / setjmp / Go defer records: a linked list of records, pushed at acquires, unlinked at releases."
    runtime = Path(__file__).with_name("registration_records.c")

    def rewrite(self, program: Program, analysis: Analysis, state: Ledger) -> Plan:
        push, pop, pop_node = len(program.kfuncs), len(program.kfuncs) + 1, len(program.kfuncs) + 2  # appended
        before: dict[int, list[Insn]] = {}
        after: dict[int, list[Insn]] = {}
        for pc, (kind, slot) in sorted(state.acquires.items()):
            if slot is not None and RELEASABLE[kind].by_address:  # the object on the stack: its address
                value = [mov_reg(1, 10), add_imm(1, slot)]
            else:
                value = [mov_reg(1, 0)]
            node_off = analysis.record.at(pc).node_off
            if node_off:  # a pop or a remove returns the node inside the object: record the object
                value.append(add_imm(1, -node_off))
            after.setdefault(pc, []).extend([*value, mov_imm(2, kind_id(kind)), mov_reg(3, 0), call_kfunc(push)])
        for pc in sorted(state.released_from):
            node_off = analysis.record.at(pc).node_off
            if node_off is None:
                before.setdefault(pc, []).append(call_kfunc(pop))
            else:  # a push or an add: the object goes to the collection, R2 points node_off into it
                before.setdefault(pc, []).extend([mov_imm(0, node_off), call_kfunc(pop_node)])
        inserts = insertions(before, after)
        return Plan(
            self.name,
            extra_stack=(0,) * len(analysis.stack_depth),
            added_insns=sum(len(x.before) + len(x.after) for x in inserts),
            notes=(
                f"{len(state.shapes)} acquire site(s) push a record, {len(state.released_from)} release(s) pop one",
            ),
            inserts=inserts,
            kfuncs=(PUSH, POP, POP_NODE),
        )

    def runtime_table(self, plan: Plan, fixed: Fixed, image: NativeImage, address: int) -> bytes:
        """No table: the records are made at run time."""
        return b""


@hookimpl
def register_strategies() -> list[Strategy]:
    return [RegistrationRecords()]
