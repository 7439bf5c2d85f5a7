"""`bakeoff conformance`: bpf_conformance .data files on an engine."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from framework.cli.outcomes import EXIT_OK, EXIT_REJECTED

if TYPE_CHECKING:
    pass


def cmd_conformance(args: argparse.Namespace) -> int:
    from framework.run.conformance import run_conformance

    report = run_conformance(args.paths, args.engine)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        for case in report.cases:
            if not case.ok:
                print(f"FAIL {case.name}: expected {case.expected!r}, got {case.got!r}")
        print(f"{report.engine}: {report.passed} passed, {report.failed} failed")
    return EXIT_OK if report.failed == 0 else EXIT_REJECTED
