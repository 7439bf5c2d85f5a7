"""`struct bpf_verifier_env`: what one verification keeps beside the states, and step outcomes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from framework.isa.insn import Insn
from framework.load.btf import Btf, parse_btf
from framework.load.program import Program
from framework.verify.regs import RT

if TYPE_CHECKING:
    from framework.strategy import Strategy
    from framework.verify.checkpoint import Checkpoint
    from framework.verify.prune import SccVisit
    from framework.verify.result import ThrowSite
    from framework.verify.state import State
    from framework.verify.tracing import Target

COMPLEXITY_LIMIT_INSNS = 1_000_000  # kernel: BPF_COMPLEXITY_LIMIT_INSNS


@dataclass(frozen=True, slots=True)
class Missing:
    """What the project does not model, where a program needs it: the verdict is `unsupported`, not a rejection."""

    kind: str  # "helper", "kfunc", "program type", "context field", "instruction"
    name: str  # bpf_perf_event_output#25, bpf_rbtree_add_impl, kprobe, xdp_md+12, ...
    needs: str  # what it would take to model it

    @property
    def message(self) -> str:
        return f"{self.kind} {self.name} is not modelled: {self.needs}"

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name, "needs": self.needs}


@dataclass(frozen=True, slots=True)
class Reject:
    """A rejection: the kernel's message lines (the last is the reason) at a pc.

    With `missing` set it is no rejection of the kernel's but the project's limit: the
    program needs something the verifier does not model (verdict `unsupported`, exit 3)."""

    lines: tuple[str, ...]
    pc: int
    missing: Missing | None = None

    @property
    def message(self) -> str:
        return self.lines[-1]


class Stop:
    """The path ended safely (process_bpf_exit)."""


STOP = Stop()
Outcome = int | Stop | Reject


def reject(pc: int, *lines: str) -> Reject:
    return Reject(tuple(lines), pc)


def unsupported(pc: int, kind: str, name: str, needs: str) -> Reject:
    """Stop the verification: the program needs what the project does not model (not a kernel rejection)."""
    missing = Missing(kind, name, needs)
    return Reject((missing.message,), pc, missing)


@dataclass
class Env:
    program: Program
    strategy: Strategy
    insns: dict[int, Insn]
    state: Any = None  # the strategy's state: each of its hooks returns the next (framework.strategy)
    log: list[str] = field(default_factory=list)
    insn_processed: int = 0
    id_gen: int = 0
    stack_depth: list[int] = field(default_factory=list)
    seen_exception: bool = False
    throws_reached: set[int] = field(default_factory=set)  # bpf_throw pcs some explored path reached
    exception_cb: int = -1  # subprog index of the exception callback, or -1
    callback_subprogs: set[int] = field(default_factory=set)  # is_cb subprogs
    async_callback_subprogs: set[int] = field(default_factory=set)  # is_async_cb: timer callbacks
    global_called: list[int] = field(default_factory=list)  # global subprogs to verify (lazily)
    might_throw: set[int] = field(default_factory=set)  # subprogs from which a throw is reachable
    throw_sites: list[ThrowSite] = field(default_factory=list)
    peak_resources: list[int] = field(default_factory=list)
    deepest_chain: int = 0  # check_max_stack_depth: the largest combined stack size of a call chain
    worklist: list[State] = field(default_factory=list)
    explored: dict[int, list[Checkpoint]] = field(default_factory=dict)
    active: dict[int, dict[int, list[Checkpoint]]] = field(default_factory=dict)
    jmps_processed: int = 0
    prev_jmps_processed: int = 0
    prev_insn_processed: int = 0
    prune_points: set[int] = field(default_factory=set)
    force_checkpoints: set[int] = field(default_factory=set)
    live: dict[int, int] = field(default_factory=dict)  # pc -> live_regs_before (liveness.py)
    scc: dict[int, int] = field(default_factory=dict)  # pc -> loop id (liveness.loops)
    scc_visits: dict[tuple[tuple[int, ...], int], SccVisit] = field(default_factory=dict)
    total_states: int = 0
    peak_states: int = 0
    cur_states: int = 0
    max_states_per_insn: int = 0
    loop_inline: dict[int, tuple[int, bool]] = field(default_factory=dict)  # bpf_loop pc -> (callback, fit)
    ptr_types: dict[int, tuple[RT, frozenset[str]]] = field(default_factory=dict)  # insn_aux_data[].ptr_type
    aux_maps: dict[int, int] = field(default_factory=dict)  # map helper pc -> map index (-1: poisoned)
    aux_keys: dict[int, int] = field(default_factory=dict)  # tail call pc -> constant key (-1: poisoned)
    tail_call_reachable: set[int] = field(default_factory=set)  # subprogs a tail call is reachable from
    aux_obj_types: dict[int, int] = field(default_factory=dict)  # obj_new/obj_drop pc -> local type id
    node_offs: dict[int, int] = field(default_factory=dict)  # graph kfunc pc -> its node's offset in the object
    rbtree_add_pcs: set[int] = field(default_factory=set)  # the calls whose callback is an rbtree `less`
    records: dict[tuple[object, int], object] = field(default_factory=dict)  # graph.reg_record's cache
    # a tcp_sock read convert_ctx_accesses cannot convert (is_valid_access allowed it): its pc
    unconvertible_pc: int = -1
    tstamp_type_access: bool = False  # prog->tstamp_type_access: a load of __sk_buff's tstamp_type was checked
    seen: set[int] = field(default_factory=set)  # insn_aux_data[].seen: every pc a path reached
    loop_at: int = -1
    may_goto_seen: set[int] = field(default_factory=set)
    may_goto_pcs: set[int] = field(default_factory=set)
    callback_calls: set[int] = field(default_factory=set)
    log_level: int = 2  # 2: every instruction and the state it leaves (BPF_LOG_LEVEL2)
    cur_pc: int = 0  # the instruction being checked (env->insn_idx)
    scratched_regs: set[int] = field(default_factory=set)  # kernel: env->scratched_regs
    scratched_slots: set[int] = field(default_factory=set)  # kernel: env->scratched_stack_slots
    last_insn_line: int = -1  # index in log of the instruction line nothing has followed yet
    allow_uninit_stack: bool = True
    attach_target: Target | None = None  # a tracing program's target (prog->aux->attach_func_proto)
    _btf: Btf | None = None  # bpf_allow_uninit_stack: root (CAP_PERFMON) loads here

    def push(self, st: State) -> None:
        # kernel: push_stack (the new path also descends from the current checkpoint)
        if st.parent is not None:
            st.parent.branches += 1  # type: ignore[attr-defined]
        st.from_pc = self.cur_pc  # kernel: push_stack keeps prev_insn_idx for "from X to Y"
        self.worklist.append(st)

    def parsed_btf(self) -> Btf:
        """The program's BTF, parsed once per verification (prototypes, decl tags, local types)."""
        if self._btf is None:
            self._btf = parse_btf(self.program.btf, source=self.program.source)
        return self._btf

    def new_id(self) -> int:
        self.id_gen += 1
        return self.id_gen

    def subprog_of(self, pc: int) -> int:
        for i, sub in enumerate(self.program.subprogs):
            if sub.start <= pc < sub.end:
                return i
        return 0

    def grow_stack(self, subprog: int, size: int) -> None:
        # kernel: grow_stack_state (round_up to 8, subprog stack_depth = max)
        size = (size + 7) // 8 * 8
        if self.stack_depth[subprog] < size:
            self.stack_depth[subprog] = size
