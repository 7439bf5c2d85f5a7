"""Lists and rbtrees of local objects: the BTF records of their fields and the graph kfuncs' checks.

A struct (a map value, or an object from bpf_obj_new) may hold a `bpf_spin_lock`, graph roots
(`bpf_list_head`, `bpf_rb_root`, each tagged `contains:TYPE:FIELD` naming the element type and
its node field) and graph nodes (`bpf_list_node`, `bpf_rb_node`): the kernel's btf_record, built
by btf_parse_fields. The graph kfuncs (kernel/bpf/helpers.c) take a root protected by the lock
held in the same allocation, and nodes:

- push_front/push_back/rbtree_add take an owning reference (an object from bpf_obj_new or a pop)
  and turn it into a non-owning one (ref_convert_owning_non_owning) before releasing the
  reference: the collection owns the object now, the program may touch it until it unlocks;
- pop_front/pop_back/rbtree_remove return an owning reference (KF_ACQUIRE | KF_RET_NULL) to the
  element, pointing at its node field (mark_reg_graph_node: off = the node's offset);
- front/back/rbtree_first/root/left/right return a non-owning one (ref_set_non_owning);
- bpf_spin_unlock invalidates every non-owning reference (invalidate_non_owning_refs).
"""

from __future__ import annotations

from dataclasses import dataclass

from framework.load.btf import Btf, Kind
from framework.platform.btf_fields import (
    LIST_HEAD,
    LIST_NODE,
    RB_NODE,
    RB_ROOT,
    REFCOUNT,
    SPECIAL_FIELDS,
    SPIN_LOCK,
    TIMER,
)
from framework.verify.env import Env, Reject, reject
from framework.verify.refs import release
from framework.verify.regs import MEM_ALLOC, NON_OWN_REF, RT, Reg, scalar
from framework.verify.state import RefKind, State

_CONTAINS = "contains:"

# kernel: is_bpf_list_api_kfunc, is_bpf_rbtree_api_kfunc (kfunc_spin_allowed: callable under a lock)
LIST_API = frozenset(
    {
        "bpf_list_push_front_impl",
        "bpf_list_push_back_impl",
        "bpf_list_pop_front",
        "bpf_list_pop_back",
        "bpf_list_front",
        "bpf_list_back",
    }
)
RBTREE_API = frozenset(
    {
        "bpf_rbtree_add_impl",
        "bpf_rbtree_remove",
        "bpf_rbtree_first",
        "bpf_rbtree_root",
        "bpf_rbtree_left",
        "bpf_rbtree_right",
    }
)
GRAPH_API = LIST_API | RBTREE_API | {"bpf_refcount_acquire_impl"}  # kernel: is_bpf_graph_api_kfunc
INSERTS = frozenset({"bpf_list_push_front_impl", "bpf_list_push_back_impl", "bpf_rbtree_add_impl"})
# the node argument (R2) of the kfuncs that take one
_TAKES_NODE = INSERTS | {"bpf_rbtree_remove", "bpf_rbtree_left", "bpf_rbtree_right"}


@dataclass(frozen=True, slots=True)
class GraphRoot:
    """struct btf_field_graph_root: a root at `off`, holding `value_name` elements by `node_off`."""

    kind: str  # bpf_list_head or bpf_rb_root
    off: int
    value_id: int
    value_name: str
    node_off: int


@dataclass(frozen=True, slots=True)
class Record:
    """struct btf_record, the part the graph kfuncs read."""

    spin_lock_off: int = -1
    refcount_off: int = -1
    roots: tuple[GraphRoot, ...] = ()
    nodes: tuple[tuple[str, int], ...] = ()  # (bpf_list_node or bpf_rb_node, offset)
    timer_off: int = -1  # btf_record's timer_off (a struct bpf_timer field)

    def root_at(self, kind: str, off: int) -> GraphRoot | None:
        return next((r for r in self.roots if r.kind == kind and r.off == off), None)

    def field_at(self, off: int, size: int) -> str | None:
        """The special field overlapping [off, off + size), if any (btf_struct_access's check;
        check_map_access's over a variable offset: [smin + off, umax + off + size))."""
        spans = [(k, o) for k, o in self.nodes] + [(r.kind, r.off) for r in self.roots]
        if self.spin_lock_off >= 0:
            spans.append((SPIN_LOCK, self.spin_lock_off))
        if self.refcount_off >= 0:
            spans.append((REFCOUNT, self.refcount_off))
        if self.timer_off >= 0:
            spans.append((TIMER, self.timer_off))
        for kind, start in spans:
            if start < off + size and off < start + _SIZES[kind]:
                return kind
        return None


_SIZES = {SPIN_LOCK: 4, REFCOUNT: 4, LIST_HEAD: 16, LIST_NODE: 24, RB_ROOT: 16, RB_NODE: 32, TIMER: 16}
NO_RECORD = Record()


def _special(btf: Btf, type_id: int) -> str | None:
    t = btf.type(btf.skip_mods(type_id))
    name = btf.string(t.name_off)
    return name if t.kind is Kind.STRUCT and name in SPECIAL_FIELDS else None


def _root(btf: Btf, kind: str, off: int, tags: list[str]) -> GraphRoot | None:
    # kernel: btf_parse_graph_root ("contains:TYPE:FIELD", the node field of the named struct)
    for tag in tags:
        if not tag.startswith(_CONTAINS):
            continue
        value_name, _, node_name = tag[len(_CONTAINS) :].partition(":")
        value_id = btf.find(value_name, Kind.STRUCT)
        if value_id is None:
            return None
        for m in btf.type(value_id).members():
            if btf.string(m.name_off) == node_name:
                return GraphRoot(kind, off, value_id, value_name, m.bit_offset // 8)
    return None


MAX_RESOLVE_DEPTH = 32  # include/linux/btf.h


def _members(btf: Btf, type_id: int, base: int, level: int) -> list[tuple[int, int, list[str]]]:
    """A struct's members (field type, byte offset, decl tags), a member that is a struct of no
    special type searched in turn at its offset (btf_find_nested_struct; a union is not)."""
    sid = btf.skip_mods(type_id)
    member_tags = btf.decl_tags(sid)
    out: list[tuple[int, int, list[str]]] = []
    for idx, m in enumerate(btf.type(sid).members()):
        off = base + m.bit_offset // 8
        inner = btf.type(btf.skip_mods(m.type))
        if inner.kind is Kind.STRUCT and _special(btf, m.type) is None and level + 1 < MAX_RESOLVE_DEPTH:
            out.extend(_members(btf, m.type, off, level + 1))
        else:
            out.append((m.type, off, [v for i, v in member_tags if i == idx]))
    return out


def record_of(btf: Btf, type_id: int) -> Record:
    """btf_parse_fields for a struct (its members) or a DATASEC (its variables)."""
    t = btf.type(btf.skip_mods(type_id))
    items: list[tuple[int, int, list[str]]] = []  # (field type, byte offset, decl tags)
    if t.kind is Kind.STRUCT:
        items = _members(btf, type_id, 0, 0)
    elif t.kind is Kind.DATASEC:
        for info in t.secinfos():
            var = btf.type(info.type)
            if var.kind is Kind.VAR:
                items.append((var.type, info.offset, [v for i, v in btf.decl_tags(info.type) if i == -1]))
    unique = {SPIN_LOCK: -1, REFCOUNT: -1, TIMER: -1}
    roots: list[GraphRoot] = []
    nodes: list[tuple[str, int]] = []
    for field_type, off, tags in items:
        kind = _special(btf, field_type)
        if kind in unique:
            if unique[kind] >= 0:
                # kernel: btf_get_field_type, a second one of a kind the record holds once is
                # -E2BIG: btf_parse_fields fails, the map has no record at all
                return NO_RECORD
            unique[kind] = off
        elif kind in (LIST_NODE, RB_NODE):
            nodes.append((kind, off))
        elif kind in (LIST_HEAD, RB_ROOT):
            root = _root(btf, kind, off, tags)
            if root is not None:
                roots.append(root)
    lock, refcount, timer = unique[SPIN_LOCK], unique[REFCOUNT], unique[TIMER]
    if lock < 0 and refcount < 0 and timer < 0 and not roots and not nodes:
        return NO_RECORD
    return Record(lock, refcount, tuple(roots), tuple(nodes), timer)


def reg_record(env: Env, r: Reg) -> Record:
    # kernel: reg_btf_record (a map value's map->record, a local object's struct meta)
    key = (r.type, r.map_index if r.type is RT.MAP_VALUE else r.btf_id)
    cached = env.records.get(key)
    if isinstance(cached, Record):
        return cached
    rec = NO_RECORD
    if env.program.btf:
        btf = env.parsed_btf()
        if r.type is RT.MAP_VALUE and 0 <= r.map_index < len(env.program.maps):
            tid = env.program.maps[r.map_index].btf_value_type_id
            rec = record_of(btf, tid) if tid else NO_RECORD
        elif r.type is RT.BTF_ID and MEM_ALLOC in r.flags and r.btf_id:
            rec = record_of(btf, r.btf_id)
    env.records[key] = rec
    return rec


BPF_OBJ_NAME_LEN = 16  # a map's name as the kernel keeps it: at most 15 characters


def field_pointer(env: Env, pc: int, r: Reg, field: str) -> Reject | None:
    """R1 points at the `struct bpf_<field>` of its value's record, at a constant offset: the
    checks check_map_field_pointer (bpf_timer) and process_spin_lock (bpf_spin_lock) share,
    with their messages; `r` is a map value or (a spin lock only) a local object."""
    if not r.var.is_const:
        return reject(pc, f"R1 doesn't have constant offset. bpf_{field} has to be at the constant offset")
    where = "local 'kptr'"
    if r.type is RT.MAP_VALUE:
        mdef = env.program.maps[r.map_index]
        where = f"map '{mdef.name[: BPF_OBJ_NAME_LEN - 1]}'"
        if not env.program.btf or not mdef.btf_value_type_id:
            return reject(pc, f"{where} has to have BTF in order to use bpf_{field}")
    rec = reg_record(env, r)
    at = rec.spin_lock_off if field == "spin_lock" else rec.timer_off
    if at < 0:
        return reject(pc, f"{where} has no valid bpf_{field}")
    off = r.var.var_off.value + r.off
    if at != off:
        return reject(pc, f"off {off} doesn't point to 'struct bpf_{field}' that is at {at}")
    return None


def lock_ptr(r: Reg) -> int:
    # kernel: the lock's `ptr` (a map value's map, a local object's btf): one number per allocation kind
    return r.map_index + 1 if r.type is RT.MAP_VALUE else -(r.btf_id or 1)


def may_point_to_spin_lock(env: Env, r: Reg) -> bool:
    # kernel: reg_may_point_to_spin_lock (such a pointer keeps its id past the NULL check)
    if r.type is RT.MAP_VALUE or (r.type is RT.BTF_ID and MEM_ALLOC in r.flags):
        return reg_record(env, r).spin_lock_off >= 0
    return False


def invalidate_non_owning_refs(st: State) -> None:
    # kernel: invalidate_non_owning_refs (privileged: mark_reg_invalid is __mark_reg_unknown)
    st.map_regs(lambda r: scalar() if r.type is RT.BTF_ID and NON_OWN_REF in r.flags else r)


def _is_alloc(r: Reg) -> bool:
    # kernel: reg->type == (PTR_TO_BTF_ID | MEM_ALLOC), no other flag
    return r.type is RT.BTF_ID and r.flags == frozenset({MEM_ALLOC}) and not r.maybe_null


def _root_arg(env: Env, st: State, pc: int, r: Reg, kind: str) -> GraphRoot | Reject:
    # kernel: check_kfunc_args (KF_ARG_PTR_TO_LIST_HEAD / RB_ROOT), __process_kf_arg_ptr_to_graph_root
    if r.type is not RT.MAP_VALUE and not _is_alloc(r):
        return reject(pc, "arg#0 expected pointer to map value or allocated object")
    if r.type is RT.BTF_ID and not r.ref_obj_id:
        return reject(pc, "allocated object must be referenced")
    if not r.var.is_const:
        return reject(pc, f"R1 doesn't have constant offset. {kind} has to be at the constant offset")
    rec = reg_record(env, r)
    off = r.off + r.var.var_off.value
    root = rec.root_at(kind, off)
    if root is None:
        return reject(pc, f"{kind} not found at offset={off}")
    # kernel: check_reg_allocation_locked
    if not st.active_locks:
        return reject(pc, f"bpf_spin_lock at off={rec.spin_lock_off} must be held for {kind}")
    if not any(x.kind is RefKind.LOCK and x.id == r.id and x.ptr == lock_ptr(r) for x in st.refs):
        env.log.append("held lock and object are not in the same allocation")
        return reject(pc, f"bpf_spin_lock at off={rec.spin_lock_off} must be held for {kind}")
    return root


def in_rbtree_cb(env: Env, st: State) -> bool:
    # kernel: in_rbtree_lock_required_cb (a frame called back by bpf_rbtree_add)
    return any(f.in_callback and f.callsite in env.rbtree_add_pcs for f in st.frames)


def _node_arg(env: Env, st: State, pc: int, name: str, r: Reg, root: GraphRoot) -> Reject | None:
    # kernel: check_kfunc_args (KF_ARG_PTR_TO_LIST_NODE / RB_NODE), __process_kf_arg_ptr_to_graph_node
    node_kind = LIST_NODE if root.kind == LIST_HEAD else RB_NODE
    if name in INSERTS:
        if not _is_alloc(r):
            return reject(pc, "arg#1 expected pointer to allocated object")
        if not r.ref_obj_id:
            return reject(pc, "allocated object must be referenced")
    else:
        if NON_OWN_REF not in r.flags and not r.ref_obj_id:
            return reject(pc, f"{name} can only take non-owning or refcounted bpf_rb_node pointer")
        if in_rbtree_cb(env, st):
            return reject(pc, f"{name} not allowed in rbtree cb")
    if not r.var.is_const:
        return reject(pc, f"R2 doesn't have constant offset. {node_kind} has to be at the constant offset")
    off = r.off + r.var.var_off.value
    rec = reg_record(env, r) if r.type is RT.BTF_ID else NO_RECORD
    if (node_kind, off) not in rec.nodes:
        return reject(pc, f"{node_kind} not found at offset={off}")
    if r.btf_id != root.value_id:
        return reject(
            pc,
            f"operation on {root.kind} expects arg#1 {node_kind} at offset={root.node_off} in struct "
            f"{root.value_name}, but arg is at offset={off} in struct {r.btf_name}",
        )
    if off != root.node_off:
        return reject(
            pc, f"arg#1 offset={off}, but expected {node_kind} at offset={root.node_off} in struct {root.value_name}"
        )
    return None


def check_graph_kfunc(env: Env, st: State, pc: int, name: str) -> Reg | Reject:
    """The graph kfunc `name`'s arguments and what it returns in R0 (before KF_ACQUIRE / KF_RET_NULL)."""
    regs = st.cur.regs
    kind = LIST_HEAD if name in LIST_API else RB_ROOT
    # kernel: check_kfunc_args, in argument order; NULL is refused before the argument's kind is looked at
    head = regs[1]
    if head.maybe_null or (head.is_const and head.const == 0):
        return reject(pc, "Possibly NULL pointer passed to trusted arg0")
    root = _root_arg(env, st, pc, head, kind)
    if isinstance(root, Reject):
        return root
    if name in _TAKES_NODE:
        r = regs[2]
        if r.maybe_null or (r.is_const and r.const == 0):
            return reject(pc, "Possibly NULL pointer passed to trusted arg1")
        err = _node_arg(env, st, pc, name, r, root)
        if err:
            return err
    # mark_reg_graph_node (the element, pointing at its node field)
    size = env.parsed_btf().size(root.value_id)
    node = Reg(RT.BTF_ID, flags=frozenset({MEM_ALLOC}), btf_name=root.value_name, btf_id=root.value_id, mem_size=size)
    node = node.with_(off=root.node_off)
    if name == "bpf_rbtree_add_impl":
        less = regs[3]
        if less.type is not RT.FUNC:
            return reject(pc, "arg2 expected pointer to func")
        # kernel: push_callback_call with set_rbtree_add_callback_state: less(a, b) on two
        # non-owning nodes, returning 0 or 1; queued before the node changes hands
        from framework.verify.frames import push_callback

        env.rbtree_add_pcs.add(pc)
        arg = node.with_(flags=node.flags | {NON_OWN_REF})
        err = push_callback(env, st, pc, less.subprog, [arg, arg], (0, 1))
        if err:
            return err
    if name in INSERTS:
        env.node_offs[pc] = root.node_off  # kernel: insn_aux->insert_off (fixup_kfunc_call)
        env.aux_obj_types[pc] = root.value_id  # kernel: insn_aux->kptr_struct_meta, the element's
        # kernel: ref_convert_owning_non_owning, then release_reference
        rid = regs[2].ref_obj_id
        st.map_regs(lambda x: x.with_(ref_obj_id=0, flags=x.flags | {NON_OWN_REF}) if x.ref_obj_id == rid else x)

        err = release(env, st, pc, rid)
        if err:
            return err
        return scalar()
    if name in ("bpf_list_pop_front", "bpf_list_pop_back", "bpf_rbtree_remove"):
        env.node_offs[pc] = root.node_off
        return node
    return node.with_(flags=node.flags | {NON_OWN_REF})  # kernel: ref_set_non_owning
