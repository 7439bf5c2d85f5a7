"""Tracing programs (BPF_PROG_TYPE_TRACING: fentry, fexit, fmod_ret): the attach target and the context.

A tracing program's context is an array of u64, one (or two, for a struct of up to 16 bytes
passed by value) per argument of the function it attaches to, and for fexit and fmod_ret the
return value after them. What each slot is comes from the target's prototype in vmlinux BTF
(FUNC -> FUNC_PROTO), resolved as libbpf and the kernel resolve it:
- `attach_target`: libbpf's find_kernel_btf_id (a FUNC of that name), then the kernel's
  check_attach_btf_id / bpf_check_attach_target (deny lists, btf_distill_func_proto, fmod_ret's
  modifiable functions);
- `ctx_load`: tracing_prog_is_valid_access then btf_ctx_access: integers, enums and structs
  passed by value are scalars, pointers to int or void scalars too, pointers to structs
  PTR_TO_BTF_ID (never trusted for these attach types: prog_args_trusted).
tp_btf (BPF_TRACE_RAW_TP: trusted arguments, raw_tp_null_args) and iterators are not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass

from framework.load.btf import Btf, BtfType, Kind
from framework.load.core import vmlinux_btf
from framework.platform.sections import match_section
from framework.verify.env import Env, Reject, reject, unsupported
from framework.verify.regs import MEM_PERCPU, MEM_USER, RT, Reg, loaded_scalar

__all__ = ["MAX_BPF_FUNC_ARGS", "Target", "attach_target", "ctx_load", "kind_str"]

MAX_BPF_FUNC_ARGS = 12  # include/linux/bpf.h
MODELLED = frozenset({"trace_fentry", "trace_fexit", "modify_return"})
# kernel/bpf/verifier.c btf_id_deny: functions no tracing program may attach to, under this
# kernel's config (CONFIG_SMP, CONFIG_PREEMPT_RCU; without CONFIG_DEBUG_PREEMPT and
# CONFIG_TRACE_PREEMPT_TOGGLE preempt_count_add/_sub are not on it, nor rcu_read_unlock_strict)
BTF_ID_DENY = frozenset({"migrate_disable", "migrate_enable", "__rcu_read_lock", "__rcu_read_unlock"})
# kernel/bpf/verifier.c noreturn_deny: no fexit or fmod_ret on a function that does not return
NORETURN_DENY = frozenset(
    {"__x64_sys_exit", "__x64_sys_exit_group", "do_exit", "do_group_exit", "kthread_complete_and_exit",
     "kthread_exit", "make_task_dead"}
)  # fmt: skip
# bpf_check_attach_target, BPF_MODIFY_RETURN: a security_ hook, a function on the error-injection
# list (ALLOW_ERROR_INJECTION) or in a BTF fmodret set; of those the project knows only these
# (net/bpf/test_run.c); another target is `unsupported`
ERROR_INJECTABLE = frozenset({"bpf_modify_return_test", "bpf_modify_return_test2"})

# btf_kind_str (kernel/bpf/btf.c), what btf_type_str prints
_KIND_STR = {
    Kind.UNKN: "UNKNOWN", Kind.INT: "INT", Kind.PTR: "PTR", Kind.ARRAY: "ARRAY", Kind.STRUCT: "STRUCT",
    Kind.UNION: "UNION", Kind.ENUM: "ENUM", Kind.FWD: "FWD", Kind.TYPEDEF: "TYPEDEF",
    Kind.VOLATILE: "VOLATILE", Kind.CONST: "CONST", Kind.RESTRICT: "RESTRICT", Kind.FUNC: "FUNC",
    Kind.FUNC_PROTO: "FUNC_PROTO", Kind.VAR: "VAR", Kind.DATASEC: "DATASEC", Kind.FLOAT: "FLOAT",
    Kind.DECL_TAG: "DECL_TAG", Kind.TYPE_TAG: "TYPE_TAG", Kind.ENUM64: "ENUM64",
}  # fmt: skip
_MODIFIERS = frozenset({Kind.TYPEDEF, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.TYPE_TAG})


@dataclass(frozen=True, slots=True)
class Target:
    """The function a tracing program attaches to, as vmlinux BTF describes it."""

    name: str
    func_id: int  # the FUNC: attach_btf_id
    proto_id: int  # its FUNC_PROTO: prog->aux->attach_func_proto

    def proto(self, btf: Btf) -> BtfType:
        return btf.type(self.proto_id)


def kind_str(t: BtfType) -> str:
    return _KIND_STR[t.kind]


def _skip_modifiers(btf: Btf, type_id: int) -> int:
    # kernel: btf_type_skip_modifiers
    while btf.type(type_id).kind in _MODIFIERS:
        type_id = btf.type(type_id).type
    return type_id


def _is_struct(t: BtfType) -> bool:
    return t.kind in (Kind.STRUCT, Kind.UNION)  # kernel: btf_type_is_struct


def _type_size(btf: Btf, type_id: int) -> tuple[int, BtfType]:
    # kernel: __get_type_size (-1: no size the trampoline can pass)
    if not type_id:
        return 0, btf.type(0)
    t = btf.type(_skip_modifiers(btf, type_id))
    if t.kind is Kind.PTR:
        return 8, t
    if t.kind in (Kind.INT, Kind.ENUM, Kind.ENUM64) or _is_struct(t):
        return t.size, t
    return -1, t


def _distill(btf: Btf, proto: BtfType, name: str) -> str | None:
    # kernel: btf_distill_func_proto (the trampoline's model of the function)
    params = proto.params()
    if len(params) > MAX_BPF_FUNC_ARGS:
        return f"The function {name} has {len(params)} arguments. Too many."
    size, t = _type_size(btf, proto.type)
    if size < 0 or _is_struct(t):
        return f"The function {name} return type {kind_str(t)} is unsupported."
    for i, p in enumerate(params):
        if i == len(params) - 1 and p.type == 0:
            return f"The function {name} with variable args is unsupported."
        size, t = _type_size(btf, p.type)
        if size < 0 or size > 16:
            return f"The function {name} arg{i} type {kind_str(t)} is unsupported."
        if size == 0:
            return f"The function {name} has malformed void argument."
    return None


def attach_target(env: Env) -> Target | Reject | None:
    """The resolved target of a tracing program (None for other types), or why it is refused."""
    prog = env.program
    if prog.prog_type != "tracing":
        return None
    attach = prog.expected_attach_type
    if attach not in MODELLED:
        return unsupported(0, "attach type", attach or "none", "its context (tp_btf's trusted arguments, iterators)")
    section = match_section(prog.section)
    if section is not None and section.sleepable:
        # bpf_check_attach_target: a sleepable program's target must be allowed to sleep
        return unsupported(0, "sleepable tracing target", prog.attach_to or "none", "the sleepable sets")
    if not prog.attach_to:
        # libbpf passes attach_btf_id 0; kernel: bpf_check_attach_target
        return reject(0, "Tracing programs must provide btf_id")
    btf = vmlinux_btf()
    if btf is None:
        return unsupported(0, "attach target", prog.attach_to, "the running kernel's BTF (/sys/kernel/btf/vmlinux)")
    func_id = btf.find(prog.attach_to, Kind.FUNC)
    if func_id is None:
        # libbpf: libbpf_find_attach_btf_id -> find_kernel_btf_id; the kernel never sees the program
        return reject(0, f"prog '{prog.name}': failed to find kernel BTF type ID of '{prog.attach_to}': -ESRCH")
    name = prog.attach_to
    proto_id = btf.type(func_id).type
    # kernel: bpf_check_attach_target, BPF_TRACE_FENTRY / FEXIT / MODIFY_RETURN
    if btf.type(proto_id).kind is not Kind.FUNC_PROTO:
        return reject(0, f"attach_btf_id {func_id} is not a function")
    err = _distill(btf, btf.type(proto_id), name)
    if err:
        return reject(0, err)
    if attach == "modify_return" and not name.startswith("security_") and name not in ERROR_INJECTABLE:
        return unsupported(0, "fmod_ret target", name, "whether it is on the error-injection list")
    # kernel: check_attach_btf_id, after bpf_check_attach_target
    if name in BTF_ID_DENY:
        return reject(0, f"Attaching tracing programs to function '{name}' is rejected.")
    if attach in ("trace_fexit", "modify_return") and name in NORETURN_DENY:
        return reject(0, f"Attaching fexit/fmod_ret to __noreturn function '{name}' is rejected.")
    return Target(name, func_id, proto_id)


def _arg_index(btf: Btf, proto: BtfType, off: int) -> int:
    # kernel: btf_ctx_arg_idx (a struct by value takes its size rounded up to 8)
    offset = 0
    params = proto.params()
    for i, p in enumerate(params):
        t = btf.type(_skip_modifiers(btf, p.type))
        offset += 8 if t.kind is Kind.PTR else (t.size + 7) // 8 * 8
        if off < offset:
            return i
    t = btf.type(_skip_modifiers(btf, proto.type))  # the return value (void: no slot)
    offset += 8 if t.kind is Kind.PTR else (t.size + 7) // 8 * 8
    return len(params) if off < offset else len(params) + 1


def ctx_load(env: Env, target: Target, pc: int, off: int, size: int, write: bool) -> Reg | Reject:
    """What a load of `size` bytes at `off` of a tracing program's context yields, or its refusal."""
    refused = f"invalid bpf_context access off={off} size={size}"  # check_ctx_access
    # kernel: tracing_prog_is_valid_access
    if off < 0 or off >= 8 * MAX_BPF_FUNC_ARGS or write or off % size:
        return reject(pc, refused)
    btf = vmlinux_btf()
    assert btf is not None  # attach_target found the target in it
    got = _btf_ctx_access(env, btf, target, off, size)
    if isinstance(got, str):
        return reject(pc, got, refused)
    return got


def _btf_ctx_access(env: Env, btf: Btf, target: Target, off: int, size: int) -> Reg | Reject | str:
    # kernel: btf_ctx_access (a str: the line it logs before refusing)
    name = target.name
    if off % 8:
        return f"func '{name}' offset {off} is not multiple of 8"
    proto = target.proto(btf)
    arg = _arg_index(btf, proto, off)
    nr_args = len(proto.params())
    attach = env.program.expected_attach_type
    if arg > nr_args or (arg == nr_args and attach not in ("trace_fexit", "modify_return")):
        return f"func '{name}' doesn't have {arg + 1}-th argument"
    if arg == nr_args:
        type_id = proto.type  # the return value: fexit's, and fmod_ret's
        if attach == "modify_return":
            t = btf.type(_skip_modifiers(btf, type_id))
            if not (t.kind is Kind.INT and t.size <= 8):
                return f"ret type {kind_str(t)} not allowed for fmod_ret"
    else:
        type_id = proto.params()[arg].type
    type_id = _skip_modifiers(btf, type_id)
    t = btf.type(type_id)
    if (t.kind is Kind.INT and t.size <= 8) or t.kind in (Kind.ENUM, Kind.ENUM64) or _is_struct(t):
        return _scalar(size)  # btf_type_is_small_int, btf_is_any_enum, btf_type_is_struct
    if t.kind is not Kind.PTR:
        return (
            f"func '{name}' arg{arg} '{_anon(btf, t.name_off)}' has type {kind_str(t)}. Only pointer access is allowed"
        )
    if size != 8:
        return f"func '{name}' size {size} must be 8"
    pointee = btf.type(_skip_modifiers(btf, t.type))
    if t.type == 0 or pointee.kind is Kind.INT:
        return _scalar(size)  # a pointer to int or void: a scalar
    if not _is_struct(pointee):
        # a pointer to a pointer, an enum, an array...: scalar under btf_type_is_struct_ptr, "is not a
        # struct" under the is_void_or_int_ptr rule before it; which one 6.18 has is not held here
        what = f"{name} arg{arg} ({kind_str(pointee)} *)"
        return unsupported(env.cur_pc, "tracing argument", what, "btf_ctx_access's rule for this pointer")
    flags: set[str] = set()
    tag = btf.type(t.type)
    if tag.kind is Kind.TYPE_TAG and not tag.kind_flag:
        value = btf.string(tag.name_off)
        flags |= {MEM_USER} if value == "user" else {MEM_PERCPU} if value == "percpu" else set()
    btf_id = _strip_to_struct(btf, t.type)
    env.log.append(
        f"func '{name}' arg{arg} has btf_id {btf_id} type {kind_str(pointee)} '{_anon(btf, pointee.name_off)}'"
    )
    nullable = btf.string(proto.params()[arg].name_off).endswith("__nullable") if arg < nr_args else False
    # kernel: check_mem_access, PTR_TO_CTX: mark_reg_known_zero, an id for a nullable pointer
    return Reg(
        RT.BTF_ID,
        btf_name=btf.string(pointee.name_off),
        btf_id=btf_id,
        flags=frozenset(flags),
        maybe_null=nullable,
        id=env.new_id() if nullable else 0,
    )


def _anon(btf: Btf, name_off: int) -> str:
    return btf.string(name_off) if name_off else "(anon)"  # kernel: __btf_name_by_offset


def _strip_to_struct(btf: Btf, type_id: int) -> int:
    # kernel: btf_ctx_access, info->btf_id follows the modifiers to the struct
    while btf.type(type_id).kind in _MODIFIERS:
        type_id = btf.type(type_id).type
    return type_id


def _scalar(size: int) -> Reg:

    return loaded_scalar(size)
