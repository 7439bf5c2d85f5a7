"""`bakeoff run`: the bake-off, every program under every strategy, side by side."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from framework.cli.inputs import (
    load_programs,
    manifest_entries,
    manifest_facts,
    need_compiler,
    object_paths,
    out_dir,
    time_limit,
)
from framework.cli.outcomes import EXIT_OK, EXIT_REJECTED
from framework.load.program import Program

if TYPE_CHECKING:
    pass


def _program_row(program: Program) -> dict[str, Any]:
    return {
        "program": program.name,
        "object": program.source,
        "section": program.section,
        "prog_type": program.prog_type,
        "insns": sum(1 for _ in program.insns()),
        "subprogs": [s.name for s in program.subprogs],
        "exception_cb": program.exception_cb.name if program.exception_cb else None,
        "maps": [m.name for m in program.maps],
        "kfuncs": list(program.kfuncs),
        "sha256": program.sha256,
    }


def _run_one(path: str, strategy_names: Sequence[str]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Rows and listings (relative path -> text) for one object under each strategy."""
    from framework.listing import listing
    from framework.pipeline import measure
    from framework.plugins import get_strategy
    from framework.run.reference import References

    rows: list[dict[str, Any]] = []
    listings: dict[str, str] = {}
    entries = manifest_entries(path)  # read once for the object, not once per program
    for program in load_programs(path):
        inputs, hits, twin = manifest_facts(entries, program.name)
        limit = time_limit(entries, program.name)
        entry = entries.get(program.name)
        stopped = entry.timeout_inputs if entry is not None else frozenset()
        unsupported = entry.unsupported if entry is not None else None
        refs = References()  # each case's reference, run once for every strategy
        for name in strategy_names:
            strategy = get_strategy(name)
            costs = measure(
                program, strategy, inputs, hits=hits, twin_retvals=twin, references=refs, timeout_s=limit,
                expected_timeouts=stopped, unsupported=unsupported,
            )  # fmt: skip
            rows.append(_program_row(program) | costs.to_json())
            listings[f"listings/{strategy.name}/{Path(path).stem}.{program.name}.txt"] = listing(program)
    return rows, listings


def _run_table(rows: list[dict[str, Any]]) -> list[list[object]]:
    def dash(value: object) -> object:
        return "-" if value is None else value

    def worst(values: list[int]) -> object:
        return max(values) if values else "-"

    table = []
    for r in rows:
        grown = None if r["jit_bytes"] is None else r["jit_bytes"] - r["stock_jit_bytes"]
        table.append(
            [
                r["program"],
                r["strategy"],
                r["verdict"],
                "+".join(map(str, r["stack_depth"])),
                "+".join(map(str, r["reserved_stack"])) if any(r["reserved_stack"]) else "-",
                dash(r["deepest_chain"] or None),
                dash(r["metadata_bytes"]),
                dash(r["added_insns"]),
                dash(grown),
                worst([h["over_stock"] for h in r["happy_path"]]),
                worst([t["walk"] + t["lookup"] + t["release"] + t["pad"] for t in r["throws"]]),
                len(r["problems"]) or "-",
                (r["message"] or "")[:48],
            ]
        )
    return table


def cmd_run(args: argparse.Namespace) -> int:
    from concurrent.futures import ProcessPoolExecutor

    from framework.plugins import chosen
    from framework.provenance import provenance

    need_compiler()
    out = out_dir(args.out)
    names = chosen(args.strategy, args.disable_strategy)  # an unknown name is bad input before any work
    paths = object_paths(args.paths)
    if args.jobs > 1:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            results = list(pool.map(_run_one, paths, [names] * len(paths)))
    else:
        results = [_run_one(path, names) for path in paths]
    rows = [row for found, _ in results for row in found]
    if out is not None:  # written only once everything ran: a failed run leaves nothing half-written
        out.mkdir(parents=True, exist_ok=True)
        for listings in (found for _, found in results):
            for rel, text in listings.items():
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                (out / rel).write_text(text)
        (out / "programs.json").write_text(json.dumps(rows, indent=2) + "\n")
        (out / "provenance.json").write_text(json.dumps(provenance(), indent=2) + "\n")
    bad = sum(len(r["problems"]) for r in rows)
    mismatches = sum(r.get("mismatches", 0) for r in rows)
    timeouts = sum(r.get("timeouts", 0) for r in rows)
    failed = bool(bad or mismatches or timeouts)  # a timeout its manifest declares is not a failure
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_REJECTED if failed else EXIT_OK
    from tabulate import tabulate

    headers = ["program", "strategy", "verdict", "stack", "reserved", "chain", "meta B", "+insns", "+JIT B"]
    headers += ["happy +x86", "throw x86", "problems", "refused"]
    print(tabulate(_run_table(rows), headers=headers))
    programs = len({(r["object"], r["program"]) for r in rows})
    plural = "strategy" if len(names) == 1 else "strategies"
    checked = sum(len(r.get("runs", ())) for r in rows)
    expected = sum(r.get("expected_timeouts", 0) for r in rows)
    print(f"\n{mismatches} mismatch(es) and {timeouts} timeout(s) in {checked} runs, each checked against")
    print("its reference (the interpreter's run of the program as given, same input and throw, ideal cleanup);")
    print("neither is measured." + (f" {expected} more timeout(s) are of inputs their manifests say the emulator"
                                    " cannot finish." if expected else ""))  # fmt: skip
    unsupported = sum(r.get("unsupported_runs", 0) for r in rows)
    if unsupported:
        print(f"{unsupported} run(s) unsupported where their manifests say the machine does not model what they reach.")
    print(f"{programs} program(s), each verified, planned and run under {len(names)} {plural}; {bad} problem(s).")
    print("happy +x86: most x86 instructions over stock's JIT of the same program on a declared input that")
    print("does not throw; throw x86: most runtime instructions (walk + lookup + release, and landing pads)")
    print("at a forced throw. Counts are exact x86 instructions in the emulator, not time.")
    p = provenance()
    print(f"commit {p['commit'] or '?'}{' (with changes)' if p['dirty'] else ''}, {p['runtime_compiler']}, "
          f"unicorn {p['packages']['unicorn']}, Python {p['python']}, {p['machine']['cpu']}")  # fmt: skip
    return EXIT_REJECTED if failed else EXIT_OK
