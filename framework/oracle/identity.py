"""Which kernel recorded a truth: `KernelBuild`, and `running()` for the kernel here (DESIGN.md "Kernel drift").

A build is named by its release (uname -r), its version string (uname -v) and
a SHA-256 of its BTF (/sys/kernel/btf/vmlinux), which changes with every
rebuild that changes a type and is readable without bpf(). The GNU build id
of /sys/kernel/notes is recorded as found, but "same build" never rests on it:
on some hypervisors the notes describe the host's kernel, not the guest's.
Two builds are the same when release and BTF hash both match; a record that
lacks the hash (written before it was recorded) matches no build.
"""

from __future__ import annotations

import functools
import hashlib
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["NOTES", "VMLINUX_BTF", "KernelBuild", "gnu_build_id", "running"]

VMLINUX_BTF = Path("/sys/kernel/btf/vmlinux")
NOTES = Path("/sys/kernel/notes")
_NT_GNU_BUILD_ID = 3
_KEYS = ("release", "version", "btf_sha256", "build_id")


@dataclass(frozen=True, slots=True)
class KernelBuild:
    """One kernel build; every field but `release` is None where it was not recorded or not readable."""

    release: str
    version: str | None = None
    btf_sha256: str | None = None
    build_id: str | None = None

    def same_build(self, other: KernelBuild) -> bool:
        return self.btf_sha256 is not None and (self.release, self.btf_sha256) == (other.release, other.btf_sha256)

    def to_table(self) -> dict[str, str]:
        """The fields that are known, as TOML stores them (it has no null)."""
        return {key: value for key in _KEYS if (value := getattr(self, key)) is not None}

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> KernelBuild:
        """The identity kept in a truth table (other keys are ignored; `release` defaults to "unknown")."""
        fields = {key: str(table[key]) for key in _KEYS if table.get(key) is not None}
        return cls(**{"release": "unknown", **fields})

    def __str__(self) -> str:
        return self.release if self.btf_sha256 is None else f"{self.release} (BTF {self.btf_sha256[:12]})"


def gnu_build_id(notes: bytes) -> str | None:
    """The NT_GNU_BUILD_ID descriptor, in hex, of a run of ELF notes (host byte order); None without one."""
    at = 0
    while at + 12 <= len(notes):
        namesz, descsz, kind = struct.unpack_from("=III", notes, at)
        name_at = at + 12
        desc_at = name_at + (namesz + 3) // 4 * 4
        end = desc_at + (descsz + 3) // 4 * 4
        if end > len(notes):
            return None
        if kind == _NT_GNU_BUILD_ID and notes[name_at : name_at + namesz] == b"GNU\0":
            return notes[desc_at : desc_at + descsz].hex()
        at = end
    return None


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


@functools.cache
def running() -> KernelBuild:
    """The kernel this process runs on (read once per process)."""
    uname = os.uname()
    btf = _read(VMLINUX_BTF)
    notes = _read(NOTES)
    return KernelBuild(
        release=uname.release,
        version=uname.version,
        btf_sha256=hashlib.sha256(btf).hexdigest() if btf is not None else None,
        build_id=gnu_build_id(notes) if notes is not None else None,
    )
