"""Where every figure comes from: the commit, the tools, the machine (DESIGN.md: figures carry provenance).

Instruction counts are exact and deterministic (the emulator counts them); they still
depend on the code measured and the compiler that built the runtimes, so a report
names both. Plugins add fields through the `update_machine_info` hook.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from framework.platform.host import cpu_model
from framework.plugins import get_plugin_manager, strategies

__all__ = ["provenance"]

ROOT = Path(__file__).resolve().parents[1]
_PACKAGES = ("unicorn", "iced-x86", "pyelftools", "pluggy")


def _run(cmd: list[str]) -> str | None:
    try:
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


# The layout of what a run writes (rows and provenance): raised when a key changes meaning or goes,
# so a stored result says which reader it needs.
FORMAT_VERSION = 2


def provenance() -> dict[str, Any]:
    """The commit (and whether the tree had changes), tool and package versions, the machine."""
    gcc = shutil.which("gcc")
    clang = shutil.which("clang-19") or shutil.which("clang")
    info: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "commit": _run(["git", "rev-parse", "HEAD"]),
        "dirty": bool(_run(["git", "status", "--porcelain", "--untracked-files=no"])),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "packages": {p: _version(p) for p in _PACKAGES},
        "runtime_compiler": (_run([gcc, "--version"]) or "").splitlines()[0] if gcc else None,
        "clang": next(iter((_run([clang, "--version"]) or "").splitlines()), None) if clang else None,
        "strategies": {name: r.strategy.version for name, r in strategies().items()},
        # the running kernel is the oracle: its release and build (`uname -r`, `uname -v`)
        "machine": {
            "kernel": platform.release(),
            "kernel_build": platform.version(),
            "cpu": cpu_model(),
            "cpus": os.cpu_count(),
        },
    }
    get_plugin_manager().hook.update_machine_info(machine_info=info)
    return info
