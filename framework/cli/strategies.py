"""`bakeoff strategies`: the registered strategies and where each comes from."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from framework.cli.outcomes import EXIT_OK

if TYPE_CHECKING:
    pass


def cmd_strategies(args: argparse.Namespace) -> int:
    from framework.plugins import strategies

    rows = [
        {"name": r.strategy.name, "version": r.strategy.version, "summary": r.strategy.summary, "origin": r.origin}
        for r in strategies().values()
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    from tabulate import tabulate

    print(
        tabulate(
            [[r["name"], r["version"], r["origin"], r["summary"]] for r in rows],
            headers=["strategy", "version", "origin", "summary"],
        )
    )
    return EXIT_OK
