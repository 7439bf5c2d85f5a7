"""Exit statuses, the verdicts they stand for, and the one line a bug gets (its traceback in a file)."""

from __future__ import annotations

import os
import tempfile
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

EXIT_OK, EXIT_REJECTED, EXIT_BAD_INPUT, EXIT_UNSUPPORTED, EXIT_INTERNAL = 0, 1, 2, 3, 4


VERDICT_EXIT = {"accepted": EXIT_OK, "rejected": EXIT_REJECTED, "unsupported": EXIT_UNSUPPORTED}


EXIT_HELP = """exit status (and --json's "verdict"):
  0  accepted     the verifier accepted the program (exec: every run agreed with its reference)
  1  rejected     a rule of Linux's verifier refused it (exec, run: or a fault, mismatch, timeout)
  2               bad input or usage: one line naming the place
  3  unsupported  the program needs what the project does not model (the line names it; exec: a
                  run reached a helper or case of one the emulated kernel does not model)
  4  error        a bug in the project: one line, the traceback written to a file it names"""


EXCERPT = 200  # characters of an exception's text quoted on the terminal


def internal_error(exc: Exception) -> str:
    """One line for a bug: the exception, where it was raised, and where its traceback went."""
    text = " ".join(str(exc).split())
    if len(text) > EXCERPT:
        text = text[: EXCERPT - 3] + "..."
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    try:
        fd, name = tempfile.mkstemp(prefix="bakeoff-traceback-", suffix=".txt")
        with os.fdopen(fd, "w") as out:
            traceback.print_exception(exc, file=out)
        kept = f"the traceback is in {name}"
    except OSError as err:
        kept = f"its traceback could not be written ({err.strerror})"
    return f"{type(exc).__name__}: {text}{where}; this is a bug in the project, {kept}"
