"""`bakeoff verify`: a program through Linux's verifier, under a strategy, veristat-style."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from framework.cli.inputs import load_each, one_program, select
from framework.cli.outcomes import EXIT_BAD_INPUT, EXIT_OK, VERDICT_EXIT
from framework.load.program import LoadFailure, Program

if TYPE_CHECKING:
    from framework.verify.result import Analysis


def cmd_verify(args: argparse.Namespace) -> int:
    """One program: its log and verdict line. Several (no --program): each verified alone, one
    line each (one JSON object each, in a list), as veristat does; the exit status is the
    highest of theirs, a program that could not be loaded counting as bad input."""
    from framework.pipeline import verify
    from framework.plugins import get_strategy

    strategy = get_strategy(args.strategy)
    items = select(load_each(args.path), args.program, args.path)
    if len(items) == 1:
        verified = verify(one_program(items, None, args.path), strategy, log_level=args.log_level or 0)
        program, analysis = verified.program, verified.analysis
        if args.json:
            print(json.dumps(analysis.to_json(), indent=2))
        else:
            print(analysis.log(args.log_level), end="")
            print(_verdict_line(program, strategy.name, analysis))
        return VERDICT_EXIT[analysis.verdict.value]
    rows: list[dict[str, object]] = []
    status = EXIT_OK
    for item in items:
        if isinstance(item, LoadFailure):
            message = str(item.error)
            rows.append({"program": item.name, "strategy": strategy.name, "verdict": None, "message": message})
            if not args.json:
                print(f"{item.name}: bad input: {message}")
            status = max(status, EXIT_BAD_INPUT)
            continue
        verified = verify(item, strategy)
        program, analysis = verified.program, verified.analysis
        rows.append(analysis.to_json())
        if not args.json:
            print(_verdict_line(program, strategy.name, analysis))
        status = max(status, VERDICT_EXIT[analysis.verdict.value])
    if args.json:
        print(json.dumps(rows, indent=2))
    return status


def _verdict_line(program: Program, strategy: str, analysis: Analysis) -> str:
    if analysis.accepted:
        return f"{program.name}: accepted by the verifier under {strategy}"
    verdict = analysis.verdict.value
    return f"{analysis.coord or program.source}: {program.name}: {verdict}: {analysis.message}"
