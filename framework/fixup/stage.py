"""The fixup stage: Program -> Program, the kernel's post-verification rewrites, in bpf_check's order.

1. opt_hard_wire_dead_code_branches, opt_remove_dead_code, opt_remove_nops (privileged
   loads: as root here), by what the verifier reached;
2. optimize_bpf_loop (bpf_loop with flags 0 and a known callback becomes a loop
   of BPF-to-BPF calls); convert_ctx_accesses (`__sk_buff` loads -> `struct sk_buff` loads);
3. do_misc_fixups: fixup_kfunc_call (obj_new / obj_drop arguments), map_gen_lookup
   (array maps' lookups inlined), LD_ABS/LD_IND
   (gen_ld_abs), timed may_goto (x86-64's form) with its entry stores, the division
   guards, and add_hidden_subprog for the default exception callback
   (`r0 = r1; exit`) when the program throws without one;
4. opt_subreg_zext_lo32_rnd_hi32: the zero extension after a 32-bit cmpxchg.
Each step is a patch with a pc map; `Fixed.pc_map` is their composition.
Not modelled (named differences): other helper inlining (percpu arrays, hashes, ...),
BPF_PROBE_MEM loads (the JIT's guard, from verifier pointer types).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from framework.fixup.arith import div_patch, zext_patch
from framework.fixup.bpfloop import inline_bpf_loop
from framework.fixup.ctx import convert_skb_access
from framework.fixup.dead import hard_wire, is_nop, reachable
from framework.fixup.kfunc import KfuncFix, kfunc_fixes
from framework.fixup.ldabs import ld_abs_patch
from framework.fixup.maplookup import array_lookup_patch, inlined_lookups
from framework.fixup.maygoto import is_may_goto, may_goto_patch, may_goto_prologue
from framework.fixup.timer import timer_set_callback_patch
from framework.isa import opcodes as op
from framework.isa.decode import Slots
from framework.isa.insn import Insn, make
from framework.isa.opcodes import Kind
from framework.isa.patch import Insertion, Patched, To, compose, patch
from framework.isa.stack import touched
from framework.load.program import CleanupRange, Linkage, Program, Subprog
from framework.verify.regs import RT
from framework.verify.result import InsnAux, VerifierRecord

__all__ = ["HIDDEN_CB", "Fixed", "FixedSlots", "fixup", "fixup_slots"]

HIDDEN_CB = "__hidden_exception_cb"
BPF_FUNC_TAIL_CALL = 12
_SKB_TYPES = ("sched_cls", "sched_act", "socket_filter", "cgroup_skb")  # convert_ctx_accesses of __sk_buff


@dataclass(frozen=True, slots=True)
class Fixed:
    """The rewritten program, old pc -> new pc, and what was patched."""

    program: Program
    pc_map: tuple[int, ...]  # by original pc (len = original slots + 1)
    ctx_loads: int = 0  # __sk_buff loads and stores converted
    kfunc_calls: tuple[tuple[int, KfuncFix], ...] = ()  # (new pc of the call, its fixup)
    hidden_cb: bool = False
    removed: frozenset[int] = frozenset()  # original pcs removed as dead or nops
    inlined_maps: frozenset[int] = frozenset()  # indexes into Program.maps of arrays whose lookups are inlined
    stack_depths: tuple[int, ...] = ()  # per subprog of `program` (the kernel's rule, may_goto slots included)
    ctx_pcs: frozenset[int] = frozenset()  # pcs of `program` that a context conversion emitted (they read the skb)
    # do_misc_fixups' BPF_JMP|BPF_TAIL_CALL: (pc, imm) per tail call, imm the poke descriptor's index + 1
    # for a direct tail call (one map and one constant key on every path), 0 for an indirect one. The
    # instruction stays `call bpf_tail_call` in `program` (no BPF_TAIL_CALL kind: userspace cannot write one)
    tail_calls: tuple[tuple[int, int], ...] = ()
    pokes: tuple[tuple[int, int], ...] = ()  # poke_tab: (map index, key) of each direct tail call
    tail_call_reachable: frozenset[str] = frozenset()  # subprogs the JIT gives the tail-call counter

    def original_pc(self, new_pc: int) -> int:
        """The original pc whose patch holds `new_pc` (the last one at or before it)."""
        best = 0
        for old, new in enumerate(self.pc_map[:-1]):
            if new <= new_pc:
                best = old
            else:
                break
        return best


NORETURN = ("bpf_throw", "bpf_unwind_resume")  # kfunc calls that never fall through


def kfunc_calls(slots: Slots, kfuncs: Sequence[str], names: Collection[str] = NORETURN) -> frozenset[int]:
    """pcs of the calls to the kfuncs `names` (by default those that never fall through)."""
    return frozenset(
        pc
        for pc, i in enumerate(slots)
        if i is not None and i.kind is Kind.CALL and i.src == op.PSEUDO_KFUNC_CALL
        and 0 <= i.imm < len(kfuncs) and kfuncs[i.imm] in names
    )  # fmt: skip


def _bounds(subprogs: tuple[Subprog, ...], pc_map: tuple[int, ...]) -> tuple[Subprog, ...]:
    return tuple(dataclasses.replace(s, start=pc_map[s.start], end=pc_map[s.end]) for s in subprogs)


@dataclass(frozen=True, slots=True)
class FixedSlots:
    """A bare instruction list after the arithmetic rewrites, its subprog bounds moved with it."""

    slots: Slots
    bounds: tuple[tuple[int, int], ...]
    pc_map: tuple[int, ...]


def fixup_slots(slots: Slots, bounds: Sequence[tuple[int, int]] | None = None) -> FixedSlots:
    """Only the division guards and the cmpxchg zero extension (do_misc_fixups,
    opt_subreg_zext_lo32_rnd_hi32): for bare instruction lists such as the ISA suite's."""
    done = patch(slots, lambda pc, i: div_patch(pc, i) or zext_patch(pc, i))
    moved = tuple((done.pc_map[s], done.pc_map[e]) for s, e in (bounds or [(0, len(slots))]))
    return FixedSlots(done.slots, moved, done.pc_map)


def _moved(at: Mapping[int, InsnAux], done: Patched, shift: Callable[[int], int] | None = None) -> dict[int, InsnAux]:
    """The verifier's records, moved with a patch (`shift`: where the original instruction sits in its patch)."""
    return {done.pc_map[pc] + (shift(pc) if shift else 0): a for pc, a in at.items()}


def fixup(
    program: Program,
    record: VerifierRecord,
    *,
    remove_dead: bool = True,
    convert_ctx: bool = True,
    inserts: Sequence[Insertion] = (),
) -> Fixed:
    """The kernel's post-verification rewrites of `program`, in bpf_check's order, after a
    strategy's `inserts` (applied first: "after main verification pass", Eduard's mail).

    `record` is what the verifier saw at each pc of `program` (Analysis.record): which loads and
    stores go through the context, each map helper's map, obj_new's type, which bpf_loop calls
    fit inlining. Nothing here re-derives those from the instructions' shape."""
    slots = program.slots
    subs = program.subprogs or (Subprog("main", 0, len(slots), Linkage.GLOBAL),)
    pc_map = tuple(range(len(slots) + 1))
    at = record.where()  # current pc -> what the verifier saw there
    by_record = remove_dead and record.complete  # the verifier finished: what it never reached is dead
    if by_record:  # opt_hard_wire_dead_code_branches
        slots = hard_wire(slots, record.seen)
    if inserts:
        by_pc = {i.pc: i for i in inserts}
        if len(by_pc) != len(inserts):
            raise ValueError("two insertions at one pc")
        done = patch(slots, lambda pc, insn: [*by_pc[pc].before, insn, *by_pc[pc].after] if pc in by_pc else None)
        at = _moved(at, done, lambda pc: sum(i.slots for i in by_pc[pc].before) if pc in by_pc else 0)
        slots, pc_map, subs = done.slots, compose(pc_map, done.pc_map), _bounds(subs, done.pc_map)
    throws = kfunc_calls(slots, program.kfuncs)
    removed: frozenset[int] = frozenset()
    if remove_dead:  # opt_remove_dead_code, opt_remove_nops
        if by_record:  # every pc no verified path reached, with what a strategy inserted around it
            unseen = [pc for pc, i in enumerate(program.slots) if i is not None and pc not in record.seen]
            dead = frozenset(q for pc in unseen for q in range(pc_map[pc], pc_map[pc + 1]))
        else:
            roots = frozenset({subs[0].start} | {s.start for s in subs if s.is_exception_cb})
            roots |= {pc_map[c.pad] for c in program.cleanup}  # landing pads: reached from their calls
            live = reachable(slots, roots, throws)
            dead = frozenset(pc for pc, i in enumerate(slots) if i is not None and pc not in live)
        gone: set[int] = set()  # pcs of `program` removed
        for step in ("dead", "nops"):  # opt_remove_dead_code, then opt_remove_nops on what is left
            if step == "nops":  # a jump over removed code may have become `ja +0`
                dead = frozenset(pc for pc, i in enumerate(slots) if i is not None and is_nop(i))
            if not dead:
                continue
            gone |= {old for old in range(len(program.slots)) if pc_map[old] in dead and program.slots[old] is not None}
            done = patch(slots, _dropping(dead))
            at = _moved({pc: a for pc, a in at.items() if pc not in dead}, done)
            slots, pc_map = done.slots, compose(pc_map, done.pc_map)
            subs = tuple(s for s in _bounds(subs, done.pc_map) if s.end > s.start)
            throws = kfunc_calls(slots, program.kfuncs)
        removed = frozenset(gone)
    # optimize_bpf_loop: the calls the verifier found fit (flags 0, one callback on every path)
    loops = {pc: pc_map[a.loop_callback] for pc, a in at.items() if a.loop_callback is not None}
    if loops:  # three slots below each such subprog's stack
        base = {}
        for sub in subs:
            d = touched(slots, sub.start, sub.end)
            base.update({pc: -((d + 7) // 8 * 8 + 24) for pc in loops if sub.start <= pc < sub.end})
        done = patch(slots, lambda pc, i: inline_bpf_loop(loops[pc], base[pc]) if pc in loops else None)
        at = _moved({pc: a for pc, a in at.items() if pc not in loops}, done)
        slots, pc_map, subs = done.slots, compose(pc_map, done.pc_map), _bounds(subs, done.pc_map)
        throws = kfunc_calls(slots, program.kfuncs)
    loads: frozenset[int] = frozenset()
    ctx_pcs: set[int] = set()
    if convert_ctx and program.prog_type in _SKB_TYPES:  # convert_ctx_accesses, by insn_aux_data[].ptr_type
        loads = frozenset(pc for pc, a in at.items() if a.ptr_type is RT.CTX)
        if loads:
            tta, ptype = record.tstamp_type_access, program.prog_type

            def convert(pc: int, i: Insn) -> list[Insn] | None:
                return convert_skb_access(i, tstamp_type_access=tta, prog_type=ptype) if pc in loads else None

            done = patch(slots, convert)
            ctx_pcs = {done.pc_map[pc] + k for pc in loads for k in range(done.pc_map[pc + 1] - done.pc_map[pc])}
            at = _moved({pc: a for pc, a in at.items() if pc not in loads}, done)
            slots, pc_map, subs = done.slots, compose(pc_map, done.pc_map), _bounds(subs, done.pc_map)
    # do_misc_fixups: fixup_kfunc_call, with the types the verifier saw at each call
    fixes = kfunc_fixes(slots, program.kfuncs, program.btf, {pc: a.obj_type_id for pc, a in at.items()
                                                             if a.obj_type_id is not None},
                        {pc: a.node_off for pc, a in at.items() if a.node_off is not None})  # fmt: skip

    depth_at: dict[int, int] = {}  # pc -> its subprog's depth, for subprogs with may_goto
    firsts: dict[int, int] = {}  # first pc of such a subprog -> its depth with the two slots
    for sub in subs:
        if any(is_may_goto(slots[pc]) for pc in range(sub.start, sub.end)):
            d = touched(slots, sub.start, sub.end)
            depth_at.update(dict.fromkeys(range(sub.start, sub.end), d))
            firsts[sub.start] = d + 16

    # do_misc_fixups: map_gen_lookup, for calls whose one map the verifier recorded
    lookups = inlined_lookups(slots, program.maps, {pc: a.map_index for pc, a in at.items() if a.map_index is not None})

    def misc(pc: int, insn: Insn) -> Sequence[Insn | To] | None:
        if pc in fixes:
            out: Sequence[Insn | To] = fixes[pc].patch(insn)
        elif pc in lookups:
            out = array_lookup_patch(lookups[pc])
        elif is_may_goto(insn):
            out = may_goto_patch(pc, insn, depth_at[pc])
        else:
            out = ld_abs_patch(pc, insn) or div_patch(pc, insn) or timer_set_callback_patch(pc, insn) or [insn]
        if pc in firsts:  # the count and the timestamp, set on entry
            head = out[0]
            assert isinstance(head, Insn)
            out = [*may_goto_prologue(head, firsts[pc])[:-1], *out]
        return out

    done = patch(slots, misc)
    calls = {done.pc_map[pc] + len(misc(pc, insn_of(slots, pc)) or ()) - 1: f for pc, f in fixes.items()}
    tails = {  # do_misc_fixups: a direct tail call when the map and the key are known (a poke descriptor)
        done.pc_map[pc] + len(misc(pc, insn_of(slots, pc)) or ()) - 1: (a.map_index, a.map_key)
        for pc, a in sorted(at.items())
        if a.map_key is not None and is_tail_call(insn_of(slots, pc))
    }
    ctx_pcs = _spread(ctx_pcs, done)
    slots, pc_map, subs = done.slots, compose(pc_map, done.pc_map), _bounds(subs, done.pc_map)
    hidden = bool(throws) and not any(s.is_exception_cb for s in subs)
    if hidden:  # add_hidden_subprog: the default callback returns the cookie
        start = len(slots)
        slots = (*slots, make(op.ALU64 | op.MOV | op.X, 0, 1), make(op.JMP | op.EXIT))
        subs = (*subs, Subprog(HIDDEN_CB, start, start + 2, Linkage.STATIC, None, True))
    done = patch(slots, zext_patch)  # opt_subreg_zext_lo32_rnd_hi32
    calls = {done.pc_map[pc]: f for pc, f in calls.items()}
    tails = {done.pc_map[pc]: key for pc, key in tails.items()}
    ctx_pcs = _spread(ctx_pcs, done)
    slots, pc_map, subs = done.slots, compose(pc_map, done.pc_map), _bounds(subs, done.pc_map)
    cleanup = tuple(CleanupRange(pc_map[c.begin], pc_map[c.end], pc_map[c.pad]) for c in program.cleanup)
    fixed = dataclasses.replace(program, slots=slots, subprogs=subs, cleanup=cleanup)
    depths = tuple(touched(slots, s.start, s.end) for s in subs)
    maps = frozenset(i for i, m in enumerate(program.maps) if any(m is x for x in lookups.values()))
    pokes = [(m, k) for _pc, (m, k) in sorted(tails.items()) if m is not None and m >= 0 and k is not None and k >= 0]
    imms, n = [], 0
    for pc, (m, k) in sorted(tails.items()):
        direct = m is not None and m >= 0 and k is not None and k >= 0
        n += direct
        imms.append((pc, n if direct else 0))  # insn->imm = ret + 1, ret the new poke's index
    return Fixed(
        fixed,
        pc_map,
        len(loads),
        tuple(sorted(calls.items())),
        hidden,
        removed,
        maps,
        depths,
        frozenset(ctx_pcs),
        tuple(imms),
        tuple(pokes),
        record.tail_call_reachable,
    )


def is_tail_call(insn: Insn) -> bool:
    """`call bpf_tail_call` (helper 12)."""
    return insn.kind is Kind.CALL and insn.src == op.CALL_HELPER and insn.imm == BPF_FUNC_TAIL_CALL


def _dropping(pcs: frozenset[int]) -> Callable[[int, Insn], Sequence[Insn | To] | None]:
    """A patcher removing the instructions at `pcs`."""
    return lambda pc, _insn: [] if pc in pcs else None


def _spread(pcs: set[int], done: Patched) -> set[int]:
    """`pcs` after a later patch: each instruction's whole replacement (an instruction of a
    context conversion may itself be patched, as a division is)."""
    return {q for pc in pcs for q in range(done.pc_map[pc], done.pc_map[pc + 1])}


def insn_of(slots: Slots, pc: int) -> Insn:
    insn = slots[pc]
    assert insn is not None
    return insn
