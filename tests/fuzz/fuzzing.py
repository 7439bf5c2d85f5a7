"""Shared budget and checks of the fuzz tests (issue 17 item 7), imported by each test module.

The property everywhere: no exception but `InputError` escapes, the CLI never exits 4 (a bug
in the project), and no error message is longer than `MAX_MESSAGE` characters.

Budget: BAKEOFF_FUZZ_EXAMPLES examples per test (default small, fixed seed, for CI);
`tox -e fuzz` sets a large budget and a random seed (BAKEOFF_FUZZ_RANDOM=1).
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Sequence

from hypothesis import HealthCheck, settings

from framework.cli import EXIT_INTERNAL, main
from framework.errors import MAX_MESSAGE

EXAMPLES = int(os.environ.get("BAKEOFF_FUZZ_EXAMPLES", "0")) or None
RANDOM = os.environ.get("BAKEOFF_FUZZ_RANDOM") == "1"


def budget(default: int) -> settings:
    """Hypothesis settings: `default` examples in the normal suite, BAKEOFF_FUZZ_EXAMPLES under tox -e fuzz."""
    return settings(
        max_examples=EXAMPLES or default,
        deadline=None,
        derandomize=not RANDOM,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


def run_cli(argv: Sequence[str]) -> tuple[int, str]:
    """`bakeoff ARGV` in process: (exit status, stderr); fails on exit 4 or an over-long message."""
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        status = main(list(argv))
    text = err.getvalue()
    assert status != EXIT_INTERNAL, text
    for line in text.splitlines():
        assert len(line) <= MAX_MESSAGE, line[:400]
    return status, text
