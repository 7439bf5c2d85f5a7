"""check_return_code: the return-value range a program type allows."""

from __future__ import annotations

from framework.verify.env import Reject, reject
from framework.verify.regs import RT, Reg, type_str

# kernel: check_return_code's switch on the program type (types not listed: any value)
RANGES: dict[str, tuple[int, int]] = {
    "cgroup_skb": (0, 1),
    "cgroup_sock": (0, 1),
    "sock_ops": (0, 1),
    "cgroup_device": (0, 1),
    "cgroup_sysctl": (0, 1),
    "cgroup_sockopt": (0, 1),
    "sk_lookup": (0, 1),
}


def check_return_code(prog_type: str, pc: int, reg: Reg, name: str, where: str = "At program exit") -> Reject | None:
    rng = RANGES.get(prog_type)
    if rng is None:
        return None
    if reg.type is not RT.SCALAR:
        return reject(pc, f"{where} the register {name} is not a known value ({type_str(reg)})")
    lo, hi = rng
    v = reg.var
    if v.smin < lo or v.smax > hi:
        return reject(
            pc, f"{where} the register {name} has smin={v.smin} smax={v.smax} should have been in [{lo}, {hi}]"
        )
    return None
