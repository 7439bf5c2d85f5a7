"""Context accesses: the verifier's per-type `is_valid_access` table held to the live kernel.

For every modelled program type, every (offset, size, direction) from just before its context
to just past it is verified by the project and loaded into the running kernel
(framework.oracle.ctx_probe); the two must give the same verdict. Accesses the table marks
unmodelled are the project's `unsupported` and are not compared. The offline cases check the
rules a kernel developer would look up first, with the kernel's message.
"""

from __future__ import annotations

import pytest

from framework.isa.decode import decode
from framework.load.program import Linkage, Program, Subprog
from framework.oracle.check import available
from framework.oracle.ctx_probe import Access, accesses, allowed, program_bytes
from framework.platform.contexts import CONTEXTS, UNMODELLED
from framework.verify import verify

TRACEPOINT_PROBED = range(-4, 80)  # tracepoint contexts span PERF_MAX_TRACE_SIZE: probe their start


def _program(prog_type: str, a: Access, attach: str | None = None) -> Program:
    slots = decode(program_bytes(a))
    return Program(
        name="ctx",
        section=prog_type,
        prog_type=prog_type,
        slots=slots,
        subprogs=(Subprog("ctx", 0, len(slots), Linkage.GLOBAL),),
        source="<ctx>",
        sha256="",
        expected_attach_type=attach,
    )


def _project(prog_type: str, a: Access, attach: str | None = None) -> str:
    return verify(_program(prog_type, a, attach)).verdict.value


# every modelled context, under its default expected attach type and each other one it has a rule for
def _default_attach(prog_type: str) -> str | None:
    types = CONTEXTS[prog_type].attach_types
    return None if types is None or None in types else min(t for t in types if t is not None)


RULES = [(t, _default_attach(t)) for t in sorted(CONTEXTS)]
RULES += [(t, at) for t in sorted(CONTEXTS) for at, _ in CONTEXTS[t].by_attach]


@pytest.mark.kernel
@pytest.mark.parametrize(("prog_type", "attach"), RULES, ids=[f"{t}-{a}" if a else t for t, a in RULES])
def test_every_context_access_gets_the_kernels_verdict(prog_type: str, attach: str | None) -> None:
    reason = available()
    if reason is not None:
        pytest.skip(reason)
    ctx = CONTEXTS[prog_type]
    rule = ctx.rule(attach)
    assert rule is not None
    offsets = TRACEPOINT_PROBED if prog_type == "tracepoint" else None
    differ, compared = [], 0
    for a in accesses(ctx.size, offsets=offsets):
        if rule(a.off, a.size, a.write) == UNMODELLED:
            continue
        ours = _project(prog_type, a, attach)
        kernel = "accepted" if allowed(prog_type, a, attach) else "rejected"
        compared += 1
        if ours != kernel:
            differ.append((a, ours, kernel))
    assert compared > 200 and not differ, differ[:10]


SOCK_OPS = [  # (access, verdict, message) per sock_ops_is_valid_access
    (Access(0, 4, False), "accepted", None),  # op
    (Access(4, 4, True), "accepted", None),  # reply is written
    (Access(8, 4, True), "rejected", "invalid bpf_context access off=8 size=4"),  # args[1]: read only
    (Access(184, 8, False), "accepted", None),  # sk, PTR_TO_SOCKET_OR_NULL
    (Access(184, 4, False), "rejected", "invalid bpf_context access off=184 size=4"),
    (Access(212, 1, False), "accepted", None),  # skb_tcp_flags: narrow at its first byte
    (Access(213, 1, False), "rejected", "invalid bpf_context access off=213 size=1"),
    (Access(224, 4, False), "rejected", "invalid bpf_context access off=224 size=4"),  # past the struct
]


@pytest.mark.parametrize(("access", "verdict", "message"), SOCK_OPS, ids=lambda v: str(v))
def test_sock_ops_context_rules(access: Access, verdict: str, message: str | None) -> None:
    analysis = verify(_program("sock_ops", access))
    assert (analysis.verdict.value, analysis.message) == (verdict, message)


def test_a_negative_tracepoint_offset_passes_as_in_the_kernel() -> None:
    # tp_prog_is_valid_access's `off < sizeof(void *)` is unsigned: -4 passes, as the live kernel shows
    assert _project("tracepoint", Access(-4, 4, False)) == "accepted"
    assert _project("tracepoint", Access(4, 4, False)) == "rejected"
    assert _project("tracepoint", Access(-4, 8, False)) == "rejected"  # misaligned
