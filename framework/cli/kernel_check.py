"""`bakeoff kernel-check`: what the running kernel says of each program, beside the project."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from framework.cli import inputs as cli_inputs
from framework.cli.inputs import load_programs, object_files, object_paths
from framework.cli.outcomes import EXIT_OK, EXIT_REJECTED
from framework.errors import InputError

if TYPE_CHECKING:
    pass


def cmd_kernel_check(args: argparse.Namespace) -> int:
    from framework.load.corpus import RunInput, entries_for_object
    from framework.oracle.check import available, kernel_check, render, to_json
    from framework.oracle.drift import Comparison, drift_report
    from framework.oracle.manifest import check_records, manifests_at

    if args.record and args.paths:
        raise InputError(args.paths[0], "--record takes the manifests to write; check objects without it")
    targets = manifests_at(args.record) if args.record else []  # named explicitly: never the checkout by default
    reason = available()
    if reason is not None:
        print(f"bakeoff kernel-check: {reason}; nothing checked")
        return EXIT_OK
    if targets:
        return _record_kernel_truth(targets)
    if args.compare:
        return _compare_with_kernel(args)
    records = []
    comparisons: list[Comparison] = []
    for path in object_paths(args.paths):
        programs = load_programs(path)
        entries = entries_for_object(path, cli_inputs.CORPUS)  # read at the call: tests point it elsewhere
        inputs: dict[str, tuple[RunInput, ...]]
        if args.data_in:
            try:
                packet = Path(args.data_in).read_bytes()
            except OSError as exc:
                raise InputError(args.data_in, f"cannot read: {exc.strerror}") from None
            inputs = {p.name: (RunInput(Path(args.data_in).name, packet),) for p in programs}
        else:
            inputs = {e.program.name: e.live_inputs for e in entries}
        found = kernel_check(programs, inputs, log_level=args.log_level or 1)
        records += found
        # against the manifest's [program.kernel], by the drift rule (not its retvals for another packet)
        comparisons += check_records(entries, found, retvals=not args.data_in)
    if args.json:
        print(json.dumps([to_json(r) for r in records], indent=2))
    else:
        print(render(records))
    if args.log_level:
        for rec in records:
            print(f"\n--- {rec.program}: the kernel's verifier log (level {args.log_level})\n{rec.log.rstrip()}")
    notes = sys.stderr if args.json else sys.stdout  # --json keeps stdout to the JSON
    report = drift_report(comparisons)
    if report is not None:
        print(f"\n{report}", file=notes)
    failed = [line for c in comparisons for line in c.failure_lines()]
    if failed:
        print("\nthe kernel disagrees with the manifests:", *failed, sep="\n  ", file=notes)
        return EXIT_REJECTED
    return EXIT_OK


def _compare_with_kernel(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from framework.oracle.compare import Agreement, Pairing, ordered, side_by_side, summary

    pairings: list[Pairing] = []
    unread: list[tuple[str, str]] = []
    paths = object_files(args.paths)
    for path in paths:
        try:
            programs = load_programs(path)
        except InputError as exc:
            if len(paths) == 1:
                raise
            unread.append((path, str(exc)))  # a survey goes on: the object is counted, not compared
            continue
        for program in programs:
            try:
                pairings += side_by_side(path, [program])
            except InputError as exc:  # the oracle cannot load it (CO-RE against vmlinux, ...): not compared
                if len(paths) == 1 and len(programs) == 1:
                    raise
                unread.append((path, str(exc)))
    pairings = ordered(pairings)
    if args.json:
        print(json.dumps([p.to_json() for p in pairings], indent=2))
    else:

        def fig(ours: object, theirs: object) -> str:
            return f"{ours} / {theirs}" if ours != theirs else str(ours)

        rows = [
            [
                f"{p.source}:{p.program}" if len(paths) > 1 else p.program,
                p.agreement.value,
                fig(p.verdict, p.kernel_verdict),
                fig("+".join(map(str, p.stack_depth)) or "-", "+".join(map(str, p.kernel_stack_depth)) or "-"),
                fig(p.insns_processed, p.kernel_insns_processed if p.kernel_insns_processed is not None else "-"),
            ]
            for p in pairings
        ]
        headers = ["program", "agreement", "verdict (project / kernel)", "stack", "processed insns"]
        print(tabulate(rows, headers=headers))
        differing = [p for p in pairings if p.agreement is not Agreement.SAME]
        if differing:
            print("\nwhere they differ (project, then kernel):")
        for p in differing:
            print(f"  {p.source}:{p.program}: {p.agreement.value}")
            print(f"    project: {p.verdict}" + (f": {p.message}" if p.message else ""))
            print(f"    kernel:  {p.kernel_verdict}" + (f": {p.kernel_message}" if p.kernel_message else ""))
        print()
        print(*summary(pairings).lines(), sep="\n")
        if unread:
            print(f"{len(unread)} object(s) or program(s) not compared (the project cannot read them or the kernel"
                  " cannot be given them):")  # fmt: skip
            for _, reason in unread:
                print(f"  {reason}")
    bad = {Agreement.ACCEPTS_REFUSED, Agreement.REFUSES_ACCEPTED}
    return EXIT_REJECTED if any(p.agreement in bad for p in pairings) else EXIT_OK


def _record_kernel_truth(targets: Sequence[Path]) -> int:
    from framework.oracle.identity import running
    from framework.oracle.manifest import write_corpus_truth

    records = write_corpus_truth(targets)
    print(f"recorded what Linux {running()} says of {len(records)} programs in {len(targets)} manifests:")
    for path in targets:
        print(f"  {path}")
    return EXIT_OK
