"""Reads through a socket pointer: which fields each kind of socket gives (check_sock_access).

A tc program takes `__sk_buff->sk` (a sock_common), `bpf_sk_fullsock` of it (a sock) or
`bpf_tcp_sock` of it (a tcp_sock), and reads `size` bytes at `off`. Before, any read through a
socket pointer was accepted; Linux checks each with bpf_sock_common_is_valid_access,
bpf_sock_is_valid_access or bpf_tcp_sock_is_valid_access. Offline, the rules a reader looks up
first; on the live kernel, every offset from just before each structure to just past it, in
every size, must get the kernel's verdict and message.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from framework.load.asm import load_asm
from framework.load.program import Program
from framework.oracle.check import available
from framework.verify import verify

KINDS = {"sock_common": "", "sock": "call 95", "tcp_sock": "call 96"}  # bpf_sk_fullsock, bpf_tcp_sock
_WIDTH = {1: "u8", 2: "u16", 4: "u32", 8: "u64"}


def _program(tmp: Path, kind: str, off: int, size: int) -> Program:
    lines = ["# section: tc", "  r1 = *(u64 *)(r1 + 168)", "  if r1 == 0 goto out"]
    if KINDS[kind]:
        lines += [f"  {KINDS[kind]}", "  if r0 == 0 goto out", "  r1 = r0"]
    sign = "+" if off >= 0 else "-"
    lines += [f"  r0 = *({_WIDTH[size]} *)(r1 {sign} {abs(off)})", "out:", "  r0 = 0", "  exit", ""]
    path = tmp / f"{kind}_{off}_{size}.s"
    path.write_text("\n".join(lines))
    (program,) = load_asm(str(path))
    return program


def _first_line(program: Program) -> str:
    analysis = verify(program, log_level=0)
    return "accepted" if analysis.accepted else analysis.message or ""


RULES = [
    ("sock_common", 4, 4, "accepted"),  # family
    ("sock_common", 8, 4, "R1 invalid sock_common access off=8 size=4"),  # type: a full socket's
    ("sock_common", 48, 2, "accepted"),  # dst_port, narrow
    ("sock", 8, 4, "accepted"),
    ("sock", 80, 4, "R1 invalid sock access off=80 size=4"),  # past struct bpf_sock
    ("sock", 60, 1, "accepted"),  # inside dst_ip6: narrow anywhere
    ("tcp_sock", 4, 4, "accepted"),  # srtt_us
    ("tcp_sock", 88, 8, "accepted"),  # bytes_acked, a u64
    ("tcp_sock", 88, 4, "R1 invalid tcp_sock access off=88 size=4"),  # a u64's first half
    ("tcp_sock", 92, 4, "verifier bug: error during ctx access conversion (0)"),  # its second: allowed, not converted
    ("tcp_sock", 4, 2, "R1 invalid tcp_sock access off=4 size=2"),
    ("tcp_sock", 112, 4, "R1 invalid tcp_sock access off=112 size=4"),
]


@pytest.mark.parametrize(("kind", "off", "size", "line"), RULES, ids=[f"{k}+{o}/{s}" for k, o, s, _ in RULES])
def test_socket_field_rules(tmp_path: Path, kind: str, off: int, size: int, line: str) -> None:
    assert _first_line(_program(tmp_path, kind, off, size)) == line


@pytest.mark.kernel
def test_every_socket_read_gets_the_kernels_verdict_and_message(tmp_path: Path) -> None:
    reason = available()
    if reason is not None:
        pytest.skip(reason)
    from framework.oracle.record import record

    differ, compared = [], 0
    for kind in KINDS:
        for off in range(-4, 120):
            for size in _WIDTH:
                program = _program(tmp_path, kind, off, size)
                rec = record(program, log_level=1)
                kernel = "accepted" if rec.verdict == "accepted" else rec.message or ""
                compared += 1
                if _first_line(program) != kernel:
                    differ.append((kind, off, size, _first_line(program), kernel))
    assert compared == 3 * 124 * 4 and not differ, differ[:10]
