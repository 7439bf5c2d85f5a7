"""`bakeoff`: the command line (DESIGN.md's contract; other tools parse `--json`).

Only this module prints. Bad input is one line on stderr and exit status 2; a
bug in the project is one line and exit status 4, its traceback written to a file
the line names, never to the terminal.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from framework.errors import InputError
from framework.load.program import LoadFailure, Program, strict

if TYPE_CHECKING:
    from framework.verify.result import Analysis

P = TypeVar("P", Program, Program | LoadFailure)

EXIT_OK, EXIT_REJECTED, EXIT_BAD_INPUT, EXIT_UNSUPPORTED, EXIT_INTERNAL = 0, 1, 2, 3, 4
VERDICT_EXIT = {"accepted": EXIT_OK, "rejected": EXIT_REJECTED, "unsupported": EXIT_UNSUPPORTED}
EXIT_HELP = """exit status (and --json's "verdict"):
  0  accepted     the verifier accepted the program (exec: every run agreed with its reference)
  1  rejected     a rule of Linux's verifier refused it (exec, run: or a fault, mismatch, timeout)
  2               bad input or usage: one line naming the place
  3  unsupported  the program needs what the project does not model (the line names it; exec: a
                  run reached a helper or case of one the emulated kernel does not model)
  4  error        a bug in the project: one line, the traceback written to a file it names"""
EXCERPT = 200  # characters of an exception's text quoted on the terminal

CORPUS = Path(__file__).resolve().parents[1] / "programs"


def _seconds(text: str) -> float:
    """argparse type: a positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= 86400:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most 86400 seconds: {text!r}")
    return value


def _load_each(path: str) -> tuple[Program | LoadFailure, ...]:
    """Every program of `path`, each loaded alone; an object without programs is bad input."""
    from framework.load import load_path_each

    items = load_path_each(path)
    if not items:
        raise InputError(path, "holds no BPF programs (no non-static function in a section libbpf loads as one)")
    return items


def _load(path: str) -> tuple[Program, ...]:
    """Every program of `path`; the first that cannot be loaded is the error."""
    return strict(_load_each(path))


def _select(programs: tuple[P, ...], name: str | None, path: str) -> tuple[P, ...]:
    if name is None:
        return programs
    chosen = tuple(p for p in programs if p.name == name)
    if not chosen:
        known = ", ".join(p.name for p in programs) or "none"
        raise InputError(path, f"no program named '{name}' (programs: {known})")
    return chosen


def _one(programs: tuple[Program | LoadFailure, ...], name: str | None, path: str) -> Program:
    """The one program chosen (by --program, or the only one), or its load failure raised."""
    chosen = _select(programs, name, path)
    if len(chosen) > 1:
        names = ", ".join(p.name for p in chosen)
        raise InputError(path, f"holds {len(chosen)} programs ({names}); choose one with --program")
    return strict(chosen)[0]


def corpus_objects(root: Path = CORPUS) -> list[Path]:
    """The corpus: every object under programs/obj (assembly sources are built into objects there too)."""
    return sorted((root / "obj").glob("*.o"))


def _paths(given: Sequence[str]) -> list[str]:
    if given:
        return list(given)
    objects = corpus_objects()
    if not objects:
        raise InputError(str(CORPUS), "no corpus objects found (build them with: python programs/build.py)")
    return [str(p) for p in objects]


class _Unmet(InputError):
    """What a command needs from the machine and lacks (a tool not installed): its one line, exit status 2."""

    def __init__(self, line: str) -> None:
        Exception.__init__(self, line)
        self.coord, self.message = "", line


def _need_compiler() -> None:
    """Before any work that builds a runtime (every JIT run does): gcc and binutils are there."""
    from framework.runtime.build import compiler_missing

    missing = compiler_missing()
    if missing is not None:
        raise _Unmet(missing)


def _out_dir(path: str | None) -> Path | None:
    """An `--out DIR`, checked before any work: a directory that can be written or created."""
    from framework.platform.paths import unwritable_dir

    if path is None:
        return None
    why = unwritable_dir(path)
    if why is not None:
        raise InputError(path, f"cannot be the --out directory: {why}")
    return Path(path)


# ---------------------------------------------------------------- commands


ALU32_CPUS = ("v3", "v4")  # the cpus with LLVM's ALU32 feature (w-registers in 32-bit loads and stores)


def cmd_disasm(args: argparse.Namespace) -> int:
    """An ELF object as llvm-objdump-19 -d prints it; with --program, --strategy, --x86 or --loaded
    (and for an assembly file) its programs as the loader assembles them."""
    as_loaded = args.loaded or args.program is not None or args.strategy is not None or args.x86
    data = _read(args.path)
    if not as_loaded and data[:4] == b"\x7fELF":
        return _disasm_object(args.path, data, alu32=args.mcpu in ALU32_CPUS, relocs=args.reloc)
    if args.reloc:
        raise InputError(args.path, "--reloc lists an object's relocations; loaded programs have them resolved")
    return _disasm_programs(args)


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror}") from None


def _disasm_object(path: str, data: bytes, *, alu32: bool, relocs: bool) -> int:
    from framework.object_listing import object_listing

    shown = object_listing(path, data, alu32=alu32, relocs=relocs)
    print(shown.text, end="")
    for note in shown.notes:
        print(f"bakeoff: note: {note}", file=sys.stderr)
    return EXIT_OK


def _disasm_programs(args: argparse.Namespace) -> int:
    from framework.listing import listing, x86_listing
    from framework.plugins import get_strategy

    if args.x86:
        _need_compiler()
    strategy = get_strategy(args.strategy or "stock")
    programs = strict(_select(_load_each(args.path), args.program, args.path))  # the one named may load alone
    alu32 = args.mcpu in ALU32_CPUS
    for i, program in enumerate(programs):
        if i:
            print()
        prepared = strategy.prepare(program)
        print(x86_listing(prepared, alu32=alu32) if args.x86 else listing(prepared, alu32=alu32), end="")
    return EXIT_OK


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
    from framework.measure import measure
    from framework.plugins import get_strategy
    from framework.run.reference import References

    rows: list[dict[str, Any]] = []
    listings: dict[str, str] = {}
    entries = _entries(path)  # read once for the object, not once per program
    for program in _load(path):
        inputs, hits, twin = _manifest_facts(entries, program.name)
        limit = _time_limit(entries, program.name)
        entry = entries.get(program.name)
        stopped = entry.timeout_inputs if entry is not None else frozenset()
        unsupported = entry.unsupported if entry is not None else None
        refs = References()  # each case's reference, run once for every strategy
        for name in strategy_names:
            strategy = get_strategy(name)  # a fresh instance: a strategy keeps one verification's tables
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

    from framework.plugins import get_strategy, strategies
    from framework.provenance import provenance

    _need_compiler()
    out = _out_dir(args.out)
    # the bake-off: every registered strategy, Linux today first
    names = args.strategy or sorted(strategies(), key=lambda n: n != "stock")
    for name in names:
        get_strategy(name)  # an unknown name is bad input before any work
    paths = _paths(args.paths)
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


def cmd_verify(args: argparse.Namespace) -> int:
    """One program: its log and verdict line. Several (no --program): each verified alone, one
    line each (one JSON object each, in a list), as veristat does; the exit status is the
    highest of theirs, a program that could not be loaded counting as bad input."""
    from framework.plugins import get_strategy
    from framework.verify import verify

    strategy = get_strategy(args.strategy)
    items = _select(_load_each(args.path), args.program, args.path)
    if len(items) == 1:
        program = strategy.prepare(_one(items, None, args.path))
        analysis = verify(program, strategy, log_level=args.log_level or 0)
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
        program = strategy.prepare(item)
        analysis = verify(program, strategy, log_level=0)
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


def _manifest_facts(entries: Mapping[str, Any], name: str) -> tuple[tuple[Any, ...], tuple[int, ...], dict[str, int]]:
    """A corpus program's declared inputs, its manifest's `force_hit` reaches, and its
    hand-cleaned twin's live-kernel return value per input (`entries`: the object's, by name)."""
    entry = entries.get(name)
    if entry is None:
        return (), (), {}
    return entry.inputs, entry.force_hits, entry.twin_retvals(entries)


def _time_limit(entries: Mapping[str, Any], name: str) -> float:
    """The manifest's `time_limit_s` for a program (runs past it are timeouts), or the default."""
    from framework.run.result import TIMEOUT_S

    entry = entries.get(name)
    limit = entry.time_limit_s if entry is not None else None
    return TIMEOUT_S if limit is None else limit


def _entries(path: str) -> dict[str, Any]:
    """The corpus entries of the object at `path`, by program name (none for a file outside the corpus)."""
    from framework.load.corpus import entries_for_object

    return {e.program.name: e for e in entries_for_object(path)}


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
    from framework.kernel.objects import RunInput
    from framework.measure import happy_path, stock_run, throw_cost
    from framework.plan import Plan, plan
    from framework.plugins import get_strategy
    from framework.run.exercise import Exercised, exercise
    from framework.run.reference import References
    from framework.strategy import STOCK_RUNTIME
    from framework.throwpoints import dead_throws, throw_points

    if args.engine == "jit" or not args.no_verify:  # verifying reports the JIT image's size too
        _need_compiler()
    strategy = get_strategy(args.strategy)
    if strategy.runtime is None:
        # running it on stock's runtime would leak what the strategy promises to release
        print(f"bakeoff exec: {strategy.name} has no throw-time runtime yet", file=sys.stderr)
        return EXIT_BAD_INPUT
    given = _one(_load(args.path), args.program, args.path)
    program = strategy.prepare(given)
    made: Plan | None = None
    figures: dict[str, Any] = {}
    if not args.no_verify:
        from framework.measure import jit_bytes
        from framework.verify import verify

        analysis = verify(program, strategy, log_level=0)
        if not analysis.accepted:
            where, verdict = analysis.coord or program.source, analysis.verdict.value
            print(f"{where}: {program.name}: {verdict} under {strategy.name}: {analysis.message}", file=sys.stderr)
            return VERDICT_EXIT[verdict]
        made = plan(strategy, program, analysis)
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
            program.source, f"{strategy.name}'s runtime reads the tables verification builds: drop --no-verify"
        )
    entries = _entries(args.path)
    declared, hits, twin = _manifest_facts(entries, program.name)
    limit = args.time_limit if args.time_limit is not None else _time_limit(entries, program.name)
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
    reached = analysis.throws_reached if made is not None else None
    if args.force_throw not in (None, "all"):
        pcs = [p.pc for p in throw_points(program, reached, analysis.record.seen if made is not None else None)]
        if not args.force_throw.isdigit() or int(args.force_throw) not in pcs:
            listed = ", ".join(map(str, pcs)) or "none"
            raise InputError(
                program.source, f"--force-throw {args.force_throw}: not a reachable bpf_throw pc (have: {listed})"
            )
        only = int(args.force_throw)
    done = exercise(
        program,
        strategy,
        made,
        [run_input],
        engine=args.engine,
        hits=hits,
        twin_retvals=twin,
        only=only,
        reached=reached,
        given=given,
        seen=analysis.record.seen if made is not None else None,
        forced=args.force_throw is not None,
        references=refs,
        timeout_s=limit,
    )
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
    for path in _paths(args.paths):
        programs = _load(path)
        entries = entries_for_object(path, CORPUS)
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


def _objects(given: Sequence[str]) -> list[str]:
    """PATHs as given, a directory standing for every object under it."""
    out: list[str] = []
    for path in _paths(given):
        out += sorted(str(p) for p in Path(path).rglob("*.o")) if Path(path).is_dir() else [path]
    return out


def _compare_with_kernel(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from framework.oracle.compare import Agreement, Pairing, ordered, side_by_side, summary

    pairings: list[Pairing] = []
    unread: list[tuple[str, str]] = []
    paths = _objects(args.paths)
    for path in paths:
        try:
            programs = _load(path)
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


def cmd_kernel_throw_cost(args: argparse.Namespace) -> int:
    from framework.oracle.check import available
    from framework.oracle.throw_family import throw_cost

    out = _out_dir(args.out)  # nothing is written unless a directory is named
    reason = available()
    if reason is not None:
        print(f"bakeoff kernel-throw-cost: {reason}; nothing measured")
        return EXIT_OK
    result = throw_cost(out, batches=args.batches, repeat=args.repeat)
    print(result.table)
    if result.table_path is not None and result.plot_path is not None:
        print(f"\nwritten: {result.table_path}, {result.plot_path}")
    return EXIT_OK


# ---------------------------------------------------------------- parser


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
    run.add_argument("--strategy", action="append", metavar="NAME")
    run.add_argument("--out", metavar="DIR", help="also write the rows, provenance and listings there")
    run.add_argument("--jobs", type=int, default=1, metavar="N", help="objects processed in parallel")
    run.add_argument("--json", action="store_true")
    run.set_defaults(func=cmd_run)

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
        type=_seconds,
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
    try:
        return int(args.func(args))
    except InputError as exc:
        print(f"bakeoff: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # a bug in the project: one line, the traceback in a file
        line = _internal_error(exc)
        print(f"bakeoff: internal error: {line}", file=sys.stderr)
        if getattr(args, "json", False):  # a reader of --json sees the fourth verdict, not nothing
            print(json.dumps({"verdict": "error", "message": f"internal error: {line}"}, indent=2))
        return EXIT_INTERNAL


def _internal_error(exc: Exception) -> str:
    """One line for a bug: the exception, where it was raised, and where its traceback went."""
    text = " ".join(str(exc).split())
    if len(text) > EXCERPT:
        text = text[: EXCERPT - 3] + "..."
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    try:
        fd, name = tempfile.mkstemp(prefix="bakeoff-traceback-", suffix=".txt")
        with os.fdopen(fd, "w") as out:
            traceback.print_exception(exc, file=out)
        kept = f"the traceback is in {name}"
    except OSError as err:
        kept = f"its traceback could not be written ({err.strerror})"
    return f"{type(exc).__name__}: {text}{where}; this is a bug in the project, {kept}"


if __name__ == "__main__":
    sys.exit(main())
