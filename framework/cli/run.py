"""`bakeoff run`: the bake-off, every program under every strategy, side by side.

The run makes the results frame's rows (framework.report.frame), appends them with their
provenance to the results directory (framework.report.store), writes the five reports beside
them (or into `--out DIR`), and prints the headline within 80 columns and where it wrote.
A progress bar goes to stderr when it is a terminal, nothing when it is a pipe.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from framework.cli.inputs import (
    CORPUS,
    Unmet,
    load_programs,
    manifest_entries,
    manifest_facts,
    need_compiler,
    object_paths,
    out_dir,
    time_limit,
)
from framework.cli.outcomes import EXIT_OK, EXIT_REJECTED
from framework.errors import InputError
from framework.load.program import Program

TERMINAL = 80


def _program_row(program: Program, name: str, insns: int) -> dict[str, Any]:
    return {
        "program": program.name,
        "object": name,
        "section": program.section,
        "prog_type": program.prog_type,
        "insns": insns,
        "subprogs": [s.name for s in program.subprogs],
        "exception_cb": program.exception_cb.name if program.exception_cb else None,
        "maps": [m.name for m in program.maps],
        "kfuncs": list(program.kfuncs),
        "sha256": program.sha256,
    }


def object_name(path: str, given: Sequence[str]) -> str:
    """An object's name in the rows, the same on every machine: its path relative to the corpus
    (programs/), else to the directory given on the command line, else its file name."""
    p = Path(path).resolve()
    roots = [CORPUS.resolve(), *(Path(g).resolve() for g in given if Path(g).is_dir())]
    for root in roots:
        if p.is_relative_to(root):
            return p.relative_to(root).as_posix()
    return p.name


@dataclass(frozen=True, slots=True)
class Done:
    """One object under each strategy."""

    rows: list[dict[str, Any]]  # its case rows
    details: list[dict[str, Any]]  # per (program, strategy), every field (--out's programs.json)
    listings: dict[str, str]  # relative path -> text
    failed: bool  # a run found a problem, disagreed with its reference or timed out
    cached: int = 0  # (program, strategy) pairs taken from the cache
    measured: int = 0  # ... and measured


def _run_one(
    path: str, name: str, strategy_names: Sequence[str], cache_dir: str | None = None, with_listings: bool = False
) -> Done:
    """`path` under each strategy, each (program, strategy) from the cache where its key is there;
    each program's listing (the same under every strategy) only `with_listings` (--out)."""
    from framework.listing import listing
    from framework.pipeline import measure
    from framework.plugins import get_strategy
    from framework.report.cache import Cache, code_digest, framework_digest, strategy_digest
    from framework.report.frame import About, case_rows
    from framework.run.reference import References

    store = Cache(Path(cache_dir)) if cache_dir else None
    rows: list[dict[str, Any]] = []
    details: list[dict[str, Any]] = []
    listings: dict[str, str] = {}
    failed = False
    cached = measured = 0
    entries = manifest_entries(path)  # read once for the object, not once per program
    for program in load_programs(path):
        digest = program.sha256  # the object file's
        insns = sum(1 for _ in program.insns())
        text = listing(program) if with_listings else None
        inputs, hits, twin = manifest_facts(entries, program.name)
        limit = time_limit(entries, program.name)
        entry = entries.get(program.name)
        stopped = entry.timeout_inputs if entry is not None else frozenset()
        unsupported = entry.unsupported if entry is not None else None
        family = str(entry.spec.get("family", "")) if entry is not None else ""
        facts = [inputs, hits, sorted(twin.items()), limit, sorted(stopped), unsupported, family, name]
        refs = References()  # each case's reference, run once for every strategy
        for sname in strategy_names:
            strategy = get_strategy(sname)
            if text is not None:
                listings[f"listings/{strategy.name}/{Path(path).stem}.{program.name}.txt"] = text
            key = code_digest({
                "framework": framework_digest(), "tools": _tools(), "object": digest, "program": program.name,
                "facts": facts, "strategy": [strategy.name, strategy.version, strategy_digest(strategy)],
            })  # fmt: skip
            hit = store.get(key) if store is not None else None
            if hit is not None:
                rows += hit["rows"]
                details.append(hit["detail"])
                failed = failed or hit["failed"]
                cached += 1
                continue
            costs = measure(
                program, strategy, inputs, hits=hits, twin_retvals=twin, references=refs, timeout_s=limit,
                expected_timeouts=stopped, unsupported=unsupported,
            )  # fmt: skip
            about = About(
                name, digest, program.name, family or Path(name).name.split(".")[0], program.prog_type,
                insns, strategy.version,
            )  # fmt: skip
            mine = case_rows(about, costs)
            detail = _program_row(program, name, insns) | costs.to_json()
            bad = bool(costs.problems or costs.mismatches or costs.timeouts)
            if store is not None and costs.verdict != "error":  # a strategy that raised is asked again
                store.put(key, {"rows": mine, "detail": detail, "failed": bad})
            rows += mine
            details.append(detail)
            failed = failed or bad
            measured += 1
    return Done(rows, details, listings, failed, cached, measured)


@cache
def _tools() -> list[str | None]:
    """What builds and runs the measured code, besides the framework's own: a row depends on them."""
    from framework.provenance import provenance

    p = provenance()
    return [p["python"], p["runtime_compiler"], *sorted(f"{k} {v}" for k, v in p["packages"].items())]


def _kernel_throw() -> dict[str, Any] | None:
    """The live kernel's stock throw, by depth, fitted (a timing: it differs run to run); None where
    bpf() is not permitted."""
    from framework.oracle.check import available
    from framework.oracle.throw_family import kernel_throw_cost

    if available() is not None:
        return None
    measured = kernel_throw_cost(None, batches=7, repeat=1000)
    last = measured.table.splitlines()
    build = next((line.split(" on ")[0] for line in last if line.startswith("Linux ")), "")
    return {
        "base_ns": measured.throw_fit[0] - measured.ret_fit[0],
        "per_frame_ns": measured.throw_fit[1] - measured.ret_fit[1],
        "throw_fit_ns": list(measured.throw_fit),
        "return_fit_ns": list(measured.ret_fit),
        "batches": measured.batches,
        "repeat": measured.repeat,
        "source": f"measured in this run on {build}, tc program, default callback",
    }


def _progress(paths: list[str]) -> Any:
    from tqdm import tqdm

    return tqdm(total=len(paths), unit="object", disable=not sys.stderr.isatty(), file=sys.stderr, leave=False)


def _gather(
    paths: list[str], names: list[str], strategy_names: list[str], jobs: int, cache_dir: str | None,
    scheduler: str | None = None, with_listings: bool = False,
) -> list[Done]:  # fmt: skip
    """Each object's `Done`, in the order given: here, across `jobs` processes, or on the Dask
    cluster whose scheduler is at `scheduler` (each worker keeps its cache at the same path)."""
    n = len(paths)
    each = ([strategy_names] * n, [cache_dir] * n, [with_listings] * n)
    bar = _progress(paths)
    try:
        if scheduler is not None:
            return _on_cluster(scheduler, [paths, names, *each], bar)
        if jobs > 1:
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(max_workers=jobs) as pool:
                done = []
                for result in pool.map(_run_one, paths, names, *each):
                    done.append(result)
                    bar.update()
                return done
        done = []
        for path, name in zip(paths, names, strict=True):
            bar.set_postfix_str(Path(path).name)
            done.append(_run_one(path, name, strategy_names, cache_dir, with_listings))
            bar.update()
        return done
    finally:
        bar.close()


def _on_cluster(scheduler: str, columns: list[list[Any]], bar: Any) -> list[Done]:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise Unmet(
            "--scheduler runs the cases on a Dask cluster, and Dask distributed is not installed: "
            "pip install 'bpf-cleanup-bakeoff[cluster]'"
        ) from None
    try:
        client = Client(scheduler, timeout="10s")  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        raise InputError(scheduler, f"cannot reach the Dask scheduler: {exc}") from None
    with client:
        futures = client.map(_run_one, *columns, pure=False)
        for _ in as_completed(futures):  # type: ignore[no-untyped-call]
            bar.update()
        return list(client.gather(futures))  # type: ignore[no-untyped-call]


def cmd_run(args: argparse.Namespace) -> int:
    from framework.plugins import chosen
    from framework.provenance import provenance
    from framework.report.render import write_reports
    from framework.report.store import Result, corpus_digest, results_dir, write_result
    from framework.report.text import detail, text

    need_compiler()
    out = out_dir(args.out)
    store = results_dir(args.results)
    out_dir(str(store))  # checked before any work, as --out is
    strategy_names = chosen(args.strategy, args.disable_strategy)  # an unknown name is bad input before any work
    paths = object_paths(args.paths)
    names = [object_name(p, args.paths) for p in paths]
    no_cache = args.no_cache or os.environ.get("BAKEOFF_NO_CACHE", "") not in ("", "0")
    cache_dir = None if no_cache else str(store / "cache")
    done = _gather(paths, names, strategy_names, args.jobs, cache_dir, args.scheduler, out is not None)
    rows = [row for d in done for row in d.rows]
    prov = provenance()
    prov["corpus_digest"] = corpus_digest(rows)
    prov["command"] = ["bakeoff", *args.argv]
    # (program, strategy) pairs measured in this run, and taken from the cache of earlier ones
    prov["cache"] = {"measured": sum(d.measured for d in done), "cached": sum(d.cached for d in done)}
    prov["kernel_throw"] = _kernel_throw()
    result = Result(prov, tuple(rows))
    # written only once everything ran: a failed run leaves nothing half-written
    stored = write_result(result, store)
    reports_at = out if out is not None else stored.with_suffix("")
    written = write_reports(result, reports_at)
    if out is not None:
        for d in done:
            for rel, body in d.listings.items():
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                (out / rel).write_text(body)
        (out / "programs.json").write_text(json.dumps([x for d in done for x in d.details], indent=2) + "\n")
        (out / "provenance.json").write_text(json.dumps(prov, indent=2) + "\n")
    failed = any(d.failed for d in done)
    if args.json:
        print(json.dumps(result.to_json(), indent=1))
        return EXIT_REJECTED if failed else EXIT_OK
    print(text(result, width=TERMINAL), end="")
    if args.detail:
        print()
        print(detail(result.frame, width=TERMINAL), end="")
    c = prov["cache"]
    if c["cached"]:
        pairs = c["cached"] + c["measured"]
        print(f"\n{c['cached']} of {pairs} (program, strategy) pairs from the cache (--no-cache measures all)")
    print(f"\nresult: {stored}")
    print("reports:")
    for path in written:
        print(f"  {path}")
    return EXIT_REJECTED if failed else EXIT_OK
