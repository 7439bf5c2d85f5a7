"""check_return_code: the return-value range a program type allows."""

from __future__ import annotations

from framework.verify.env import Reject, reject
from framework.verify.regs import RT, Reg, type_str

# kernel: check_return_code's switch on the program type (types not listed: any value)
RANGES: dict[str, tuple[int, int]] = {
    "cgroup_skb": (0, 1),
    "cgroup_sock": (0, 1),
    "cgroup_sock_addr": (0, 1),
    "sock_ops": (0, 1),
    "cgroup_device": (0, 1),
    "cgroup_sysctl": (0, 1),
    "cgroup_sockopt": (0, 1),
    "sk_lookup": (0, 1),
}
# ... and where the expected attach type narrows or widens it
ATTACH_RANGES: dict[str, tuple[int, int]] = {
    "cgroup_inet_egress": (0, 3),  # cgroup_skb egress: 2 and 3 carry congestion notification
    "cgroup_udp4_recvmsg": (1, 1),
    "cgroup_udp6_recvmsg": (1, 1),
    "cgroup_inet4_getpeername": (1, 1),
    "cgroup_inet6_getpeername": (1, 1),
    "cgroup_inet4_getsockname": (1, 1),
    "cgroup_inet6_getsockname": (1, 1),
    "cgroup_inet4_bind": (0, 3),
    "cgroup_inet6_bind": (0, 3),
}


# kernel: check_return_code, BPF_PROG_TYPE_TRACING by expected attach type (fmod_ret, tp_btf: any value)
TRACING_RANGES: dict[str, tuple[int, int]] = {"trace_fentry": (0, 0), "trace_fexit": (0, 0), "trace_iter": (0, 1)}


def return_range(prog_type: str, attach: str | None) -> tuple[int, int] | None:
    if prog_type == "tracing":
        return TRACING_RANGES.get(attach or "")
    rng = RANGES.get(prog_type)
    return ATTACH_RANGES.get(attach or "", rng) if rng is not None else None


def check_return_code(
    prog_type: str, pc: int, reg: Reg, name: str, where: str = "At program exit", attach: str | None = None
) -> Reject | None:
    rng = return_range(prog_type, attach)
    if rng is None:
        return None
    if reg.type is not RT.SCALAR:
        return reject(pc, f"{where} the register {name} is not a known value ({type_str(reg)})")
    lo, hi = rng
    v = reg.var
    if v.smin < lo or v.smax > hi:
        return reject(pc, invalid_scalar(where, name, v.smin, v.smax, lo, hi))
    return None


def invalid_scalar(where: str, name: str, smin: int, smax: int, lo: int, hi: int) -> str:
    # kernel: verbose_invalid_scalar (a bound at S64_MIN/S64_MAX is not printed; neither: "unknown scalar value")
    bounds = (f" smin={smin}" if smin > -(1 << 63) else "") + (f" smax={smax}" if smax < (1 << 63) - 1 else "")
    return f"{where} the register {name} has{bounds or ' unknown scalar value'} should have been in [{lo}, {hi}]"
