"""Whether a directory named for output (`--out DIR`) can be written, asked before any work."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["unwritable_dir"]


def unwritable_dir(path: str | Path) -> str | None:
    """None when `path` is a directory this process can write into, or one it can create;
    else why not, in a phrase. Nothing is left behind: a missing directory is not made here
    (whoever writes makes it), and the probe of writability is removed at once."""
    target = Path(path).absolute()
    if os.path.lexists(target) and not os.path.isdir(target):
        return "it exists and is not a directory"
    base = target
    while not os.path.lexists(base):  # mkdir -p would start at the nearest existing ancestor
        base = base.parent
    if not os.path.isdir(base):
        return f"{base} is not a directory"
    try:  # root passes every permission check (os.access): try it, as the write will
        os.rmdir(tempfile.mkdtemp(prefix=".bakeoff-probe-", dir=base))
    except OSError as exc:
        return f"nothing can be created in {base} ({exc.strerror})"
    return None
