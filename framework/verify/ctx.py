"""Context access: what a load or store through a PTR_TO_CTX register may do, by program type.

The rules are framework.platform.contexts' table (each type's `is_valid_access`); tc's
`struct __sk_buff` is framework.platform.skb's, which the fixup stage's conversion and
the emulated kernel's test-run skb read too.
"""

from __future__ import annotations

from framework.platform.contexts import UNMODELLED, context_of
from framework.platform.skb import SK_BUFF_SIZE
from framework.verify.regs import RT

__all__ = ["SK_BUFF_SIZE", "TSTAMP_TYPE", "UNMODELLED", "ctx_access", "ctx_socket"]

_YIELDS = {
    "scalar": RT.SCALAR,
    "pkt": RT.PACKET,
    "pkt_end": RT.PACKET_END,
    "pkt_meta": RT.PACKET_META,
    "sock_common_or_null": RT.SOCKET,
    "sock_or_null": RT.SOCKET,
    "sock": RT.SOCKET,
}
TSTAMP_TYPE = 180  # offsetof(struct __sk_buff, tstamp_type): reading it sets prog->tstamp_type_access


def ctx_access(prog_type: str, off: int, size: int, write: bool, attach: str | None = None) -> RT | str | None:
    """The register type a valid access yields (SCALAR for plain fields), None when Linux
    refuses it, or UNMODELLED when the project does not model that part of the context
    (under the program's expected attach type `attach`)."""
    # kernel: check_ctx_access -> env->ops->is_valid_access
    ctx = context_of(prog_type)
    rule = ctx.rule(attach) if ctx is not None else None
    if rule is None:
        return UNMODELLED
    got = rule(off, size, write)
    if got is None or got == UNMODELLED:
        return got
    return _YIELDS[got]


# the BTF name a context's socket pointer carries, and whether it may be NULL: __sk_buff's sk is
# PTR_TO_SOCK_COMMON_OR_NULL, bpf_sock_ops' PTR_TO_SOCKET_OR_NULL, sk_msg_md's PTR_TO_SOCKET
_SOCKETS = {"sock_common_or_null": ("sock_common", True), "sock_or_null": ("sock", True), "sock": ("sock", False)}


def ctx_socket(prog_type: str, off: int, size: int) -> tuple[str, bool]:
    """The socket pointer a context load yields (ctx_access gave RT.SOCKET): its name, nullable."""
    ctx = context_of(prog_type)
    got = ctx.access(off, size, False) if ctx is not None else None
    return _SOCKETS.get(got or "", ("sock_common", True))
