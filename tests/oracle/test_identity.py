"""The kernel's identity: which build recorded a truth (framework.oracle.identity)."""

from __future__ import annotations

import os
import struct
from pathlib import Path

from framework.oracle.identity import KernelBuild, gnu_build_id, running

A = KernelBuild("6.18.44-fc-v1", "#1 SMP", "aa" * 32)


def _padded(data: bytes) -> bytes:
    return data + bytes(-len(data) % 4)


def _note(name: bytes, kind: int, desc: bytes) -> bytes:
    return struct.pack("=III", len(name), len(desc), kind) + _padded(name) + _padded(desc)


def test_gnu_build_id_is_found_among_other_notes() -> None:
    notes = _note(b"Xen\0", 6, b"\x00\x01") + _note(b"GNU\0", 3, bytes(range(20))) + _note(b"Linux\0", 1, b"6.1")
    assert gnu_build_id(notes) == bytes(range(20)).hex()
    assert gnu_build_id(_note(b"Linux\0", 3, b"abcd")) is None  # type 3, but not the GNU owner's
    assert gnu_build_id(notes[:30]) is None and gnu_build_id(b"") is None


def test_the_running_kernels_identity() -> None:
    build = running()
    assert (build.release, build.version) == (os.uname().release, os.uname().version)
    if Path("/sys/kernel/btf/vmlinux").is_file():
        assert build.btf_sha256 is not None and len(build.btf_sha256) == 64
        assert build.same_build(build)
    assert KernelBuild.from_table(build.to_table()) == build


def test_same_build_rests_on_release_and_btf_only() -> None:
    assert A.same_build(KernelBuild(A.release, "another uname -v", A.btf_sha256, "00ff"))
    assert not A.same_build(KernelBuild(A.release, A.version, "cc" * 32))
    assert not A.same_build(KernelBuild("6.18.45", A.version, A.btf_sha256))
    legacy = KernelBuild.from_table({"release": A.release, "verdict": "accepted"})
    assert legacy == KernelBuild(A.release) and not legacy.same_build(A) and not A.same_build(legacy)
