"""`bakeoff exec`: a program run on an engine in the emulated kernel, each run beside its reference."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from framework.cli.inputs import load_programs, manifest_entries, manifest_facts, need_compiler, one_program, time_limit
from framework.cli.outcomes import EXIT_BAD_INPUT, EXIT_OK, EXIT_REJECTED, EXIT_UNSUPPORTED, VERDICT_EXIT
from framework.errors import InputError

if TYPE_CHECKING:
    pass


def _exec_line(run: dict[str, Any]) -> str:
    where = "as the input runs" if run["throw_pc"] is None else f"forced throw at pc {run['throw_pc']}"
    if run["throw_pc"] is not None and run["force_hit"] != 1:
        where += f" (reach {run['force_hit']})"
    freed = ", ".join(r["kind"] for r in run["released_by_unwinder"]) or "-"
    notes = [*run.get("differences", []), *run["problems"]]
    verdict = run["verdict"] if run["verdict"] != "accepted" else "ok"
    verdict += (": " + "; ".join(notes)) if notes else ""
    threw = f"threw {run['cookie']}" if run["threw"] else "returned"
    cost = ""
    if "throw_time" in run:
        t = run["throw_time"]
        cost = f"x86 walk {t['walk']} lookup {t['lookup']} release {t['release']}" + (
            f" pad {t['pad']}" if t["pad"] else ""
        )
    elif "happy_path" in run:
        cost = f"x86 {run['happy_path']['over_stock']:+d} over stock"
    value = "-" if run["timed_out"] else run["retval"]
    line = f"{run['input']:>12} {where:<28} {threw:<10} retval {value!s:<6} unwound: {freed:<24} {cost:<44}"
    return f"{line} {verdict}"


def _runs_status(runs: Sequence[dict[str, Any]]) -> int:
    """exec's exit status: 1 for a mismatch, a timeout or a fault of the program; else 3 where a run
    reached what the emulated kernel does not model (the run says what); else 0."""
    if any(r.get("verdict") in ("mismatch", "timeout") or (r.get("fault") and not r.get("unsupported")) for r in runs):
        return EXIT_REJECTED
    if any(r.get("verdict") == "unsupported" for r in runs):
        return EXIT_UNSUPPORTED
    return EXIT_OK


def cmd_exec(args: argparse.Namespace) -> int:
    from framework import pipeline
    from framework.kernel.objects import RunInput
    from framework.measure import happy_path, stock_run, throw_cost
    from framework.pipeline import Planned
    from framework.plugins import get_strategy
    from framework.run.exercise import Exercised, exercise
    from framework.run.reference import References
    from framework.strategy import STOCK_RUNTIME
    from framework.throwpoints import dead_throws, throw_points

    if args.engine == "jit" or not args.no_verify:  # verifying reports the JIT image's size too
        need_compiler()
    strategy = get_strategy(args.strategy)
    if strategy.runtime is None:
        # running it on stock's runtime would leak what the strategy promises to release
        print(f"bakeoff exec: {strategy.name} has no throw-time runtime yet", file=sys.stderr)
        return EXIT_BAD_INPUT
    given = one_program(load_programs(args.path), args.program, args.path)
    planned: Planned | None = None
    figures: dict[str, Any] = {}
    if not args.no_verify:
        from framework.measure import jit_bytes

        verified = pipeline.verify(given, strategy)
        program, analysis = verified.program, verified.analysis
        if not analysis.accepted:
            where, verdict = analysis.coord or program.source, analysis.verdict.value
            print(f"{where}: {program.name}: {verdict} under {strategy.name}: {analysis.message}", file=sys.stderr)
            return VERDICT_EXIT[verdict]
        planned = pipeline.plan(verified)
        made = planned.plan
        figures = {  # what the plan costs, whatever the run (framework.measure's figures)
            "stack_depth": list(analysis.stack_depth),
            "reserved_stack": list(made.extra_stack),
            "deepest_chain": analysis.deepest_chain,
            "metadata_bytes": made.metadata_bytes,
            "added_insns": made.added_insns,
            "jit_bytes": jit_bytes(program, made),
            "stock_jit_bytes": jit_bytes(given, None),
        }
    elif strategy.runtime != STOCK_RUNTIME:
        raise InputError(
            given.source, f"{strategy.name}'s runtime reads the tables verification builds: drop --no-verify"
        )
    else:
        program = pipeline.prepare(given, strategy).program
    entries = manifest_entries(args.path)
    declared, hits, twin = manifest_facts(entries, program.name)
    limit = args.time_limit if args.time_limit is not None else time_limit(entries, program.name)
    if args.data_in:
        try:
            run_input = RunInput(Path(args.data_in).name, Path(args.data_in).read_bytes())
        except OSError as exc:
            raise InputError(args.data_in, f"cannot read: {exc.strerror}") from None
        twin = {}
    else:
        run_input = declared[0] if declared else RunInput()
    refs = References()

    def costed(run: Exercised) -> dict[str, Any]:
        """A run's JSON (beside its reference) with the plan's figures, and, when it agrees, its
        happy-path cost over stock's JIT of the program as given (same input) or its throw-time split."""
        result, out = run.result, run.to_json() | {"plan": figures}
        if args.engine != "jit" or not run.measured:
            return out
        if not result.threw and result.fault is None:
            stock, baseline_check = stock_run(given, run_input, refs, limit)
            if baseline_check.agrees:
                out["happy_path"] = happy_path(result, stock).to_json()
            else:  # the baseline is a figure too
                out["verdict"] = baseline_check.verdict
                out["stock_baseline_differences"] = list(baseline_check.differences)
        elif result.threw:
            out["throw_time"] = throw_cost(result, run.throw_pc, run.hit).to_json()
        return out

    only = None
    reached = planned.verified.analysis.throws_reached if planned is not None else None
    if args.force_throw not in (None, "all"):
        seen = planned.verified.analysis.record.seen if planned is not None else None
        pcs = [p.pc for p in throw_points(program, reached, seen)]
        if not args.force_throw.isdigit() or int(args.force_throw) not in pcs:
            listed = ", ".join(map(str, pcs)) or "none"
            raise InputError(
                program.source, f"--force-throw {args.force_throw}: not a reachable bpf_throw pc (have: {listed})"
            )
        only = int(args.force_throw)
    common = {"engine": args.engine, "hits": hits, "twin_retvals": twin, "only": only}
    common |= {"forced": args.force_throw is not None, "references": refs, "timeout_s": limit}
    if planned is not None:
        done = pipeline.exercise(planned, [run_input], **common)
    else:  # --no-verify: stock's runtime on the program as given, every throwing point its own
        done = exercise(program, strategy, None, [run_input], given=given, **common)
    runs = [costed(r) for r in done]
    status = _runs_status(runs)
    if args.force_throw is None:
        got = runs[0]
        if args.json:
            print(json.dumps(got, indent=2))
        else:
            for key, value in got.items():
                if isinstance(value, list) and all(isinstance(r, dict) and "kind" in r for r in value):
                    value = ", ".join(f"{r['kind']} (acquired at pc {r['acquired_pc']})" for r in value) or "-"
                print(f"{key:>22}: {value}")
        return status
    dead = [] if reached is None or only is not None else list(dead_throws(program, reached))
    runs += [{"throw_pc": pc, "dead": True} for pc in dead]  # the verifier proved them dead: not forced
    if args.json:
        print(json.dumps(runs, indent=2))
    else:
        print(f"{program.name} under {strategy.name} ({args.engine}):")
        for run in runs:
            print(f"{'':>12} throw at pc {run['throw_pc']}: the verifier proved it dead, not forced"
                  if run.get("dead") else _exec_line(run))  # fmt: skip
        mismatched = sum(1 for r in runs if r.get("verdict") == "mismatch")
        if mismatched:
            print(f"{mismatched} run(s) disagree with the reference (the interpreter's run of the program as given)")
    return status
