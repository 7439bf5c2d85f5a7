"""`bakeoff compare RESULT_A RESULT_B`: two results side by side, as veristat --compare shows two
runs: per row A, B and DIFF (with its percentage) of each column chosen, changed rows first
(framework.report.compare). Each RESULT is a stored result or what `run --json` printed."""

from __future__ import annotations

import argparse
import json
from typing import Any

from framework.cli.outcomes import EXIT_OK
from framework.errors import InputError

TERMINAL = 120  # the default table fits about this many columns (framework.report.compare)


def _epilog() -> str:
    from framework.report.columns import COLUMNS

    lines = [
        "filters: KEY=GLOB or KEY!=GLOB (fnmatch), KEY one of object, program, strategy, case;",
        "  repeatable, every one must hold. Example: --filter 'strategy=resource-*' --filter 'case!=*throw*'",
        "",
        "columns (--columns a,b,c; default: verdict, stack_bytes, extra_stack_bytes, metadata_bytes,",
        "  code_growth_insns, happy_extra_insns, throw_insns, of which the table prints those that",
        "  differ in some row shown):",
    ]
    lines += [f"  {c.name:<20} {c.unit or '-':<10} {c.per}" for c in COLUMNS]
    return "\n".join(lines)


def add_compare_arguments(parser: Any) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = _epilog()
    parser.add_argument(
        "--filter", action="append", default=[], metavar="EXPR",
        help="keep the rows whose key matches: program=GLOB, strategy=GLOB, object=GLOB, case=GLOB, or != (repeatable)",
    )  # fmt: skip
    parser.add_argument("--columns", metavar="LIST", help="the columns to compare, comma-separated (listed below)")
    parser.add_argument("--all", action="store_true", help="also the unchanged rows (default: changed rows only)")
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")


def _column_list(given: str | None) -> list[str] | None:
    if given is None:
        return None
    chosen = [name.strip() for name in given.split(",") if name.strip()]
    if not chosen:
        raise InputError("--columns", "no column named")
    return chosen


def cmd_compare(args: argparse.Namespace) -> int:
    from framework.report.compare import compare, compare_json, render_compare
    from framework.report.store import read_result

    columns = _column_list(args.columns)
    a = read_result(args.result_a)
    b = read_result(args.result_b)
    made = compare(a, b, filters=args.filter, columns=columns, labels=(args.result_a, args.result_b))
    if args.json:
        print(json.dumps(compare_json(made, unchanged=args.all), indent=1))
    else:
        print(render_compare(made, width=TERMINAL, unchanged=args.all), end="")
    return EXIT_OK
