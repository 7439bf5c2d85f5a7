"""`bakeoff`: the command line (DESIGN.md's contract; other tools parse `--json`).

Only this package prints: one module per command (framework/cli/<command>.py), what they
read (inputs.py) and the exit statuses (outcomes.py). Bad input is one line on stderr and exit status 2; a
bug in the project is one line and exit status 4, its traceback written to a file
the line names, never to the terminal.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from framework.cli.compare import add_compare_arguments, cmd_compare
from framework.cli.conformance import cmd_conformance
from framework.cli.disasm import cmd_disasm
from framework.cli.exec import cmd_exec
from framework.cli.inputs import positive_seconds
from framework.cli.kernel_check import cmd_kernel_check
from framework.cli.kernel_throw_cost import cmd_kernel_throw_cost
from framework.cli.outcomes import (
    EXIT_BAD_INPUT,
    EXIT_HELP,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_UNSUPPORTED,
    internal_error,
)
from framework.cli.report import REPORT_FORMATS, cmd_report
from framework.cli.run import cmd_run
from framework.cli.strategies import cmd_strategies
from framework.cli.verify import cmd_verify
from framework.errors import InputError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bakeoff",
        description=__doc__.splitlines()[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EXIT_HELP,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the bake-off over the corpus (or PATHs)")
    run.add_argument("paths", nargs="*", metavar="PATH")
    run.add_argument("--strategy", action="append", metavar="NAME", help="run only this strategy (repeatable)")
    run.add_argument("--disable-strategy", action="append", metavar="NAME", help="leave this strategy out (repeatable)")
    run.add_argument(
        "--out", metavar="DIR", help="write the reports there (default: beside the stored result), and the"
        " detailed rows, provenance and listings",
    )  # fmt: skip
    run.add_argument(
        "--results", metavar="DIR", help="the results directory each run appends to (default: $BAKEOFF_RESULTS,"
        " else $XDG_DATA_HOME/bakeoff/results)",
    )  # fmt: skip
    run.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, metavar="N",
        help="objects processed in parallel (default: the machine's cores)",
    )  # fmt: skip
    run.add_argument("--detail", action="store_true", help="also print one row per program and strategy")
    run.add_argument(
        "--no-cache",
        action="store_true",
        help="measure every (program, strategy), cached or not (also: BAKEOFF_NO_CACHE=1)",
    )
    run.add_argument("--scheduler", metavar="ADDRESS", help="run the objects on the Dask cluster scheduled there")
    run.add_argument("--json", action="store_true", help="print the stored result (provenance and rows)")
    run.set_defaults(func=cmd_run)

    rep = sub.add_parser("report", help="render a stored result (or `run --json` output)")
    rep.add_argument("result", metavar="RESULT")
    rep.add_argument("--format", default="text", choices=sorted(REPORT_FORMATS), help="default: text")
    rep.add_argument("--detail", action="store_true", help="text: also one row per program and strategy")
    rep.add_argument("--out", metavar="DIR", help="write every format there instead of printing one")
    rep.add_argument("--plot", metavar="ID", help="print one of the HTML page's plots as SVG (ids: its figures')")
    rep.set_defaults(func=cmd_report)

    cmp = sub.add_parser("compare", help="two results side by side, as veristat --compare: A, B, DIFF, %%")
    cmp.add_argument("result_a", metavar="RESULT_A")
    cmp.add_argument("result_b", metavar="RESULT_B")
    add_compare_arguments(cmp)
    cmp.set_defaults(func=cmd_compare)

    disasm = sub.add_parser("disasm", help="disassemble an object as llvm-objdump -d does, or its loaded programs")
    disasm.add_argument("path", metavar="PATH")
    disasm.add_argument("--program", metavar="NAME", help="the program NAME as loaded (implies --loaded)")
    disasm.add_argument("--strategy", metavar="NAME", help="after the strategy's prepare (implies --loaded)")
    disasm.add_argument("--x86", action="store_true", help="interleave the x86-64 the JIT emits (implies --loaded)")
    disasm.add_argument(
        "--loaded",
        action="store_true",
        help="each program as the loader assembles it: subprogs appended, source lines, kfunc and map names",
    )
    disasm.add_argument(
        "--mcpu",
        choices=["v1", "v2", "v3", "v4"],
        default="v1",
        help="print as llvm-objdump-19 --mcpu does: v3, v4 name w-registers in 32-bit loads and stores"
        " (default v1: as llvm-objdump-19 without --mcpu)",
    )
    disasm.add_argument(
        "-r", "--reloc", action="store_true", help="each relocation below its instruction, as llvm-objdump -dr"
    )
    disasm.set_defaults(func=cmd_disasm)

    strat = sub.add_parser("strategies", help="list the registered strategies")
    strat.add_argument("--json", action="store_true")
    strat.set_defaults(func=cmd_strategies)

    ver = sub.add_parser("verify", help="verify a program as Linux's verifier does, under a strategy")
    ver.add_argument("path", metavar="PATH")
    ver.add_argument("--program", metavar="NAME")
    ver.add_argument("--strategy", default="stock", metavar="NAME")
    ver.add_argument("--log-level", type=int, default=1, choices=[0, 1, 2])
    ver.add_argument("--json", action="store_true")
    ver.set_defaults(func=cmd_verify)

    exe = sub.add_parser("exec", help="run a program on an engine, in the emulated kernel")
    exe.add_argument("path", metavar="PATH")
    exe.add_argument("--program", metavar="NAME")
    exe.add_argument("--strategy", default="stock", metavar="NAME")
    exe.add_argument("--engine", default="jit", choices=["jit", "interp"])
    exe.add_argument("--data-in", metavar="FILE", help="the packet (default: the manifest's first input)")
    exe.add_argument(
        "--force-throw",
        metavar="PC|all",
        help="drive a run to this bpf_throw pc; all: one run as the input goes, then one per throw",
    )
    exe.add_argument("--no-verify", action="store_true", help="run without verifying first")
    exe.add_argument(
        "--time-limit",
        type=positive_seconds,
        metavar="SECONDS",
        help="stop each run after this long with the verdict timeout (default: the manifest's, or 60)",
    )
    exe.add_argument("--json", action="store_true")
    exe.set_defaults(func=cmd_exec)

    conf = sub.add_parser("conformance", help="run bpf_conformance .data files with the suite's harness")
    conf.add_argument("paths", nargs="+", metavar="PATH")
    conf.add_argument("--engine", default="jit", choices=["jit", "interp"])
    conf.add_argument("--json", action="store_true")
    conf.set_defaults(func=cmd_conformance)

    kcheck = sub.add_parser("kernel-check", help="what the running kernel says of each program")
    kcheck.add_argument("paths", nargs="*", metavar="PATH")
    kcheck.add_argument("--data-in", metavar="FILE", help="packet to test-run (default: the manifest's inputs)")
    kcheck.add_argument("--json", action="store_true")
    kcheck.add_argument(
        "--compare",
        action="store_true",
        help="beside the project's verifier, program by program, disagreements first (PATHs may be directories);"
        " exit 1 when one accepts what the other refuses",
    )
    kcheck.add_argument("--log-level", type=int, choices=[1, 2], help="also print the kernel's verifier log")
    kcheck.add_argument(
        "--record",
        nargs="+",
        metavar="PATH",
        help="write the kernel's answers into these manifests (a directory: its manifests; programs/: the corpus)",
    )
    kcheck.set_defaults(func=cmd_kernel_check)

    kcost = sub.add_parser("kernel-throw-cost", help="measure the stock throw on the running kernel, by depth")
    kcost.add_argument("--out", metavar="DIR", help="also write the table and its plot there (default: print only)")
    kcost.add_argument("--batches", type=int, default=11, metavar="N")
    kcost.add_argument("--repeat", type=int, default=1000, metavar="N")
    kcost.set_defaults(func=cmd_kernel_throw_cost)

    for register in EXTRA_COMMANDS:
        register(sub)
    return parser


# Commands contributed by later stages: each registers its own subparser.
EXTRA_COMMANDS: list[Callable[[Any], None]] = []


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # the command line a stored result names
    try:
        return int(args.func(args))
    except InputError as exc:
        print(f"bakeoff: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # a bug in the project: one line, the traceback in a file
        line = internal_error(exc)
        print(f"bakeoff: internal error: {line}", file=sys.stderr)
        if getattr(args, "json", False):  # a reader of --json sees the fourth verdict, not nothing
            print(json.dumps({"verdict": "error", "message": f"internal error: {line}"}, indent=2))
        return EXIT_INTERNAL


__all__ = ["EXIT_BAD_INPUT", "EXIT_INTERNAL", "EXIT_OK", "EXIT_REJECTED", "EXIT_UNSUPPORTED", "build_parser", "main"]
