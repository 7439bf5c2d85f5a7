"""What the verifier records per instruction for the rewrites after it (`struct bpf_insn_aux_data`).

Three records, each kept across every path the verifier explores:
- the pointer type of each load's and store's base register (save_aux_ptr_type): one
  instruction used with the context on one path and another pointer kind on another is
  refused, as the kernel refuses it, because the rewrite that follows must be one;
- the map a map helper is called with (record_func_map: a second map poisons the record);
- the local type of bpf_obj_new / bpf_obj_drop / bpf_refcount_acquire (fixup_kfunc_call's
  obj_new_size and kptr_struct_meta: the last path seen wins, as in the kernel).
`collect` turns them into the `Analysis.aux` tuple the fixup stage reads.
"""

from __future__ import annotations

from framework.verify.env import Env, Reject, reject
from framework.verify.regs import RT, Reg
from framework.verify.result import NO_AUX, InsnAux

__all__ = ["collect", "record_key", "record_map", "record_obj_type", "save_ptr_type"]

# kernel: reg_type_mismatch_ok (these pointer kinds are rewritten per type, so one insn keeps one)
_REWRITTEN = frozenset({RT.CTX, RT.SOCKET, RT.BTF_ID})
_TRUST = frozenset({"trusted", "rcu", "rdonly"})


def save_ptr_type(env: Env, pc: int, base: Reg, allow_trust_mismatch: bool) -> Reject | None:
    # kernel: save_aux_ptr_type
    now = (base.type, base.flags)
    prev = env.ptr_types.get(pc)
    if prev is None:
        env.ptr_types[pc] = now
        return None
    if prev == now or (prev[0] not in _REWRITTEN and now[0] not in _REWRITTEN):
        return None
    if allow_trust_mismatch and prev[0] is RT.BTF_ID and now[0] is RT.BTF_ID and prev[1] - _TRUST == now[1] - _TRUST:
        # kernel: one path TRUSTED, another not: fall back to the untrusted type (BPF_PROBE_MEM)
        env.ptr_types[pc] = (RT.BTF_ID, prev[1] - _TRUST)
        return None
    return reject(pc, "same insn cannot be used with different pointers")


def record_map(env: Env, pc: int, map_index: int) -> None:
    # kernel: record_func_map (bpf_map_ptr_store, poisoned when a second map reaches the call)
    prev = env.aux_maps.get(pc)
    env.aux_maps[pc] = map_index if prev is None or prev == map_index else -1


def record_key(env: Env, pc: int, key: int | None) -> None:
    # kernel: record_func_key: a key that is not one constant below max_entries, or a second
    # constant, poisons the record (bpf_map_key_store(aux, BPF_MAP_KEY_POISON))
    prev = env.aux_keys.get(pc)
    env.aux_keys[pc] = key if key is not None and (prev is None or prev == key) else -1


def record_obj_type(env: Env, pc: int, type_id: int) -> None:
    # kernel: check_kfunc_call sets insn_aux->obj_new_size / kptr_struct_meta on every visit
    env.aux_obj_types[pc] = type_id


def collect(env: Env, length: int) -> tuple[InsnAux, ...]:
    """Per pc, everything recorded there (NO_AUX where nothing was)."""
    pcs = env.ptr_types.keys() | env.aux_maps.keys() | env.aux_obj_types.keys() | env.node_offs.keys()
    pcs |= env.aux_keys.keys()
    pcs |= {pc for pc, (_cb, fit) in env.loop_inline.items() if fit}
    out = [NO_AUX] * length
    for pc in pcs:
        ptr = env.ptr_types.get(pc)
        loop = env.loop_inline.get(pc)
        out[pc] = InsnAux(
            ptr_type=ptr[0] if ptr else None,
            ptr_flags=ptr[1] if ptr else frozenset(),
            map_index=env.aux_maps.get(pc),
            map_key=env.aux_keys.get(pc),
            obj_type_id=env.aux_obj_types.get(pc),
            loop_callback=env.program.subprogs[loop[0]].start if loop is not None and loop[1] else None,
            node_off=env.node_offs.get(pc),
        )
    return tuple(out)
