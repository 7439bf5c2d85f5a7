"""`landing-pads`: compiler-emitted cleanup landing pads (LLVM's `.bpf_cleanup`, 2026).

Where it comes from: LLVM 9d51c891b719 (PR #192164, "[BPF] Add exception handling
support with .bpf_cleanup section"): invoke/landingpad lowering to a table of
(begin, end, landing_pad); and the in-flight kernel series (eddyz87/bpf,
kernel/bpf/exception.c): the verifier adds edges from covered call sites to their
pads and checks the pads like any code; a pad releases what its frame holds and
ends in `bpf_unwind_resume`; at a throw the runtime finds each return address's
range and runs its pad in that frame.

`prepare` does what the compiler would have done. The program's survey (a
verification that lets every throw through, framework.verify.survey) says, at every
throwing call (a bpf_throw, or a call into a frame that may throw), what each
location of the frame holds on every path. For each such call it then writes a pad
at the end of the call's subprog, in BPF: per location, `r1 = <slot or r6-r9>; if
r1 == 0 goto next; <the kind's release call>` (an iterator or dynptr is released
through its slot's address), then `call bpf_unwind_resume`; and the table row
(call, call + 1, pad). A location that holds the resource on some paths and a
scalar, another pointer or nothing valid on others gets what a compiler's
`__attribute__((cleanup))` variable is: its own 8-byte slot after the subprog's
stack, zeroed on entry, stored right after the acquire, cleared before each release,
and the pad releases from there.

Costs in principle: on the happy path only those stores (none where no location
conflicts), beside the pads' code; metadata is the table, 12 bytes a row; a throw pays
the walk, a range lookup per frame and the pads' own BPF. Refuses: only where one
location needs different release functions on different paths into one pad (two
kinds, or objects of two BTF types, in one slot): the verifier checking the pad
refuses the release call on the path holding the other kind. As the RFC, lock, RCU,
preempt and IRQ sections stay refused.

Table encoding (little-endian): u32 row count, then per row {u32 begin; u32 end;
u32 pad} (BPF instruction indexes of the prepared program; the JIT turns them into
code addresses for the runtime, landing_pads.c).
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from framework.plugin_api import (
    RELEASABLE,
    Analysis,
    CleanupRange,
    Fixed,
    FuncInfo,
    Insn,
    Ledger,
    NativeImage,
    Nullness,
    Plan,
    Prepared,
    Program,
    Strategy,
    Survey,
    helper_id,
    hookimpl,
    interior_pointer,
    location_name,
    make,
    op,
    own_stack,
    patch,
)
from strategies.acquire_slots import AcquireSlot, slot_code

RESUME = "bpf_unwind_resume"
HOME_BYTES = 8
_ROW = struct.Struct("<III")
_RT_ROW = struct.Struct("<QQQ")  # landing_pads.c struct lp_range


@dataclass(frozen=True, slots=True)
class Held:
    """What one location holds on one path into a pad."""

    kind: str
    btf_id: int
    acquired_at: int  # the acquiring pc (-1: not known)


@dataclass
class _Site:
    """One throwing call in one frame: every path's holdings."""

    subprog: int
    paths: list[tuple[dict[int, Held], frozenset[int]]] = field(default_factory=list)  # by Holding.at


def _throwing_calls(survey: Survey) -> dict[int, _Site]:
    """Per throwing call (a bpf_throw, or a call into a frame that may throw): what its frame holds
    on every path there, from the survey. A reference several frames hold is the outermost one's
    to release (a callee holds a borrowed copy; a caller keeps what a callee acquired for it)."""
    sites: dict[int, _Site] = {}
    for site in survey.sites:
        owner = {h.ref_id: i for i, f in enumerate(site.frames) for h in f.holdings}
        for i, frame in enumerate(site.frames):
            pc = site.pc if i == 0 else site.frames[i - 1].callsite
            held = {
                h.at: Held(h.kind, h.btf_id, h.acquired_at)
                for h in frame.holdings
                if h.state is not Nullness.INVALID and owner[h.ref_id] == i
            }
            sites.setdefault(pc, _Site(frame.subprog)).paths.append((held, frozenset(frame.nulls)))
    return sites


@dataclass(frozen=True)
class Pads:
    """landing-pads' state, all of it from `prepare` (the verifier's hooks change nothing): the
    cleanup slots it reserved and how many instructions it emitted."""

    homes: Mapping[int, tuple[int, int]] = field(default_factory=lambda: MappingProxyType({}))
    # acquire pc -> (subprog, fp offset of its cleanup slot)
    added: int = 0

    def reserved(self, subprog: int) -> int:
        """Bytes of the subprog's cleanup slots."""
        return HOME_BYTES * sum(1 for sub, _ in self.homes.values() if sub == subprog)


def _release_call(kind: str, kfunc: Callable[[str], int]) -> list[Insn]:
    """The release of one resource in r1 (or of the slot r1 points to), as the program would call it."""
    k = RELEASABLE[kind]
    args = [make(op.ALU64 | op.MOV | op.K, 2, 0, 0, 0)] if kind in ("obj", "percpu_obj", "ringbuf", "dynptr") else []
    if k.service == "kfunc":
        return [*args, make(op.JMP | op.CALL, 0, op.PSEUDO_KFUNC_CALL, 0, kfunc(k.function))]
    func_id = helper_id(f"bpf_{k.function}")
    assert func_id is not None, k.function
    return [*args, make(op.JMP | op.CALL, 0, op.CALL_HELPER, 0, func_id)]


def _load(at: int) -> Insn:
    """r1 = what a register (6..9) or the stack slot at fp offset `at` (below 0) holds."""
    if at > 0:
        return make(op.ALU64 | op.MOV | op.X, 1, at)
    return make(op.LDX | op.MEM | op.DW, 1, 10, at)


def _released(seq: Sequence[Insn], kind: str) -> list[Insn]:
    """`if r1 == 0 goto past; <release>` for pointers; an iterator or dynptr is always released."""
    if RELEASABLE[kind].by_address:
        return list(seq)
    return [make(op.JMP | op.JEQ | op.K, 1, 0, sum(i.slots for i in seq), 0), *seq]


class LandingPads(Strategy):
    name = "landing-pads"
    version = "1"
    summary = "LLVM .bpf_cleanup (2026): per throwing call a BPF pad releases the frame, then bpf_unwind_resume."
    runtime = Path(__file__).with_suffix(".c")

    surveys = True  # what each frame holds at each throwing call: what the compiler knows

    def prepare(self, program: Program, survey: Survey | None = None) -> Prepared:
        if program.cleanup or survey is None or not survey.accepted or not survey.sites:
            return Prepared(program, Pads())  # the compiler emitted its pads, or refused, or nothing throws
        if any(interior_pointer(site) for site in survey.sites):
            return Prepared(program, Pads())  # a node inside its object: refused at the throw, no pad helps
        kfuncs = list(program.kfuncs)

        def kfunc(name: str) -> int:
            if name not in kfuncs:
                kfuncs.append(name)
            return kfuncs.index(name)

        own = own_stack(program)
        used = dict.fromkeys(range(len(program.subprogs)), 0)
        homes: dict[int, tuple[int, int]] = {}
        pads: dict[int, list[Insn]] = {}  # call pc -> its pad
        for pc, site in sorted(_throwing_calls(survey).items()):
            body: list[Insn] = []
            for loc, kind, cleanup in self._plan_site(site, survey.ledger):
                for a in cleanup:
                    if a not in homes:
                        used[site.subprog] += HOME_BYTES
                        homes[a] = (site.subprog, -(own[site.subprog] + used[site.subprog]))
                    off = homes[a][1]
                    body += [make(op.LDX | op.MEM | op.DW, 1, 10, off), *_released(_release_call(kind, kfunc), kind)]
                if not cleanup:
                    if RELEASABLE[kind].by_address:
                        body += [make(op.ALU64 | op.MOV | op.X, 1, 10), make(op.ALU64 | op.ADD | op.K, 1, 0, 0,
                                 loc & 0xFFFFFFFF)]  # fmt: skip
                        body += _release_call(kind, kfunc)
                    else:
                        body += [_load(loc), *_released(_release_call(kind, kfunc), kind)]
            # bpf_unwind_resume never returns; the exit keeps check_subprogs' "last insn is not an exit or jmp" away
            pads[pc] = [
                *body,
                make(op.JMP | op.CALL, 0, op.PSEUDO_KFUNC_CALL, 0, kfunc(RESUME)),
                make(op.JMP | op.EXIT),
            ]
        slots = {a: AcquireSlot(sub, off) for a, (sub, off) in homes.items()}
        done = self._emit(dataclasses.replace(program, kfuncs=tuple(kfuncs)), pads, slots, survey.ledger)
        return Prepared(done, Pads(MappingProxyType(homes), len(done.slots) - len(program.slots)))

    def _plan_site(self, site: _Site, ledger: Ledger) -> list[tuple[int, str, list[int]]]:
        """Per location the pad releases: (location, kind, acquire pcs released from their own
        cleanup slot instead). A reference a location before it already releases is skipped. A
        cleanup slot lives in the pad's frame, so its acquire and every release of what it
        acquires must run there too; otherwise the location is released as it is (and the
        verifier refuses the pad where that is wrong)."""

        elsewhere = ledger.elsewhere()

        def local(a: int) -> bool:
            return ledger.acquire_subprog.get(a) == site.subprog and a not in elsewhere

        out = []
        seen: set[int] = set()
        for loc in sorted({loc for held, _ in site.paths for loc in held}, key=location_name):  # the log's order
            on = [held[loc] for held, _ in site.paths if loc in held]
            other = any(loc not in held and loc not in nulls for held, nulls in site.paths)
            kind = on[0].kind  # a second kind here makes the pad's release refused on that path
            acquires = sorted({h.acquired_at for h in on})
            if all(a >= 0 for a in acquires) and set(acquires) <= seen:
                continue  # the same reference, released through an earlier location
            seen.update(acquires)
            known = all(a >= 0 and local(a) for a in acquires)
            out.append((loc, kind, acquires if other and known and not RELEASABLE[kind].by_address else []))
        return out

    def _emit(
        self, program: Program, pads: dict[int, list[Insn]], slots: dict[int, AcquireSlot], ledger: Ledger
    ) -> Program:
        """Pads after each subprog's last instruction, and the cleanup slots' stores."""
        before, after = slot_code(program, slots, ledger.released_from, ledger.release_subprog)
        tail: dict[int, list[tuple[int, list[Insn]]]] = {}  # a subprog's last instruction -> its pads
        for pc, pad in sorted(pads.items()):
            owner = next(s for s in program.subprogs if s.start <= pc < s.end)
            last = max(q for q in range(owner.start, owner.end) if program.slots[q] is not None)
            tail.setdefault(last, []).append((pc, pad))

        def patcher(pc: int, insn: Insn) -> list[Insn] | None:
            if pc not in before and pc not in after and pc not in tail:
                return None
            pads_here = [i for _, pad in tail.get(pc, []) for i in pad]
            return [*before.get(pc, []), insn, *after.get(pc, []), *pads_here]

        done = patch(program.slots, patcher)
        m = done.pc_map
        rows = []
        for pc, placed in tail.items():
            at = m[pc] + sum(i.slots for i in before.get(pc, [])) + 1 + sum(i.slots for i in after.get(pc, []))
            for call, pad in placed:
                call_at = m[call] + sum(i.slots for i in before.get(call, []))
                rows.append(CleanupRange(call_at, call_at + 1, at))
                at += sum(i.slots for i in pad)
        subs = tuple(dataclasses.replace(s, start=m[s.start], end=m[s.end]) for s in program.subprogs)
        return dataclasses.replace(
            program,
            slots=done.slots,
            subprogs=subs,
            func_info=tuple(FuncInfo(m[f.pc], f.type_id) for f in program.func_info),
            line_info=tuple(dataclasses.replace(li, pc=m[li.pc]) for li in program.line_info),
            core_relos=tuple(dataclasses.replace(r, pc=m[r.pc]) for r in program.core_relos),
            symbols={m[pc]: name for pc, name in program.symbols.items()},
            cleanup=tuple(sorted(rows, key=lambda r: r.begin)),
            origin=self._origin(program, m, before, len(done.slots)),
        )

    @staticmethod
    def _origin(program: Program, pc_map: Sequence[int], before: dict[int, list[Insn]], size: int) -> tuple[int, ...]:
        """Per pc of the prepared program, the given program's pc it holds (-1: a pad, a cleanup slot's store)."""
        out = [-1] * size
        for pc, insn in enumerate(program.slots):
            if insn is None:
                continue
            at = pc_map[pc] + sum(i.slots for i in before.get(pc, []))
            out[at : at + insn.slots] = range(pc, pc + insn.slots)
        return tuple(out)

    def reserved_stack(self, state: Pads, subprog: int, peak: int) -> int:
        return state.reserved(subprog)

    def rewrite(self, program: Program, analysis: Analysis, state: Pads) -> Plan:
        table = struct.pack("<I", len(program.cleanup)) + b"".join(
            _ROW.pack(c.begin, c.end, c.pad) for c in program.cleanup
        )
        notes = tuple(f"call at pc {c.begin}: pad at pc {c.pad}" for c in program.cleanup)
        notes += tuple(f"cleanup slot for pc {a} at fp{off}" for a, (_, off) in sorted(state.homes.items()))
        extra = tuple(
            HOME_BYTES * sum(1 for sub, _ in state.homes.values() if sub == i) for i in range(len(analysis.stack_depth))
        )
        return Plan(self.name, metadata=table, extra_stack=extra, added_insns=state.added, notes=notes)

    def runtime_table(self, plan: Plan, fixed: Fixed, image: NativeImage, address: int) -> bytes:
        """landing_pads.c's table: per covered call, the return-address range and the pad's address."""
        (count,) = struct.unpack_from("<I", plan.metadata, 0)
        rows = []
        for i in range(count):
            begin, end, pad = _ROW.unpack_from(plan.metadata, 4 + _ROW.size * i)
            lo = image.base + image.native_offset(fixed.pc_map[begin])
            hi = image.base + image.return_offset(fixed.pc_map[end - 1])
            rows.append((lo, hi, image.base + image.native_offset(fixed.pc_map[pad])))
        return struct.pack("<Q", count) + b"".join(_RT_ROW.pack(*r) for r in sorted(rows))  # by address


@hookimpl
def register_strategies() -> list[Strategy]:
    return [LandingPads()]
