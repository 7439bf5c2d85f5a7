#!/usr/bin/env python3
"""Check the manifests' stock expectations against the running kernel.

    python programs/stock_check.py [MANIFEST...] [--show-log]

For every program of every manifest (programs/c/*.toml, programs/asm/*.toml):
load it alone (the object's other programs are not loaded) through the
system's libbpf (libbpf.so.1, via ctypes), compare the verdict and message
with `[program.expect.stock]`, and, when it loads, run every input once with
BPF_PROG_TEST_RUN (its packet as data_in, its `ctx` as ctx_in) and compare the
return values. Runs happen in a fresh network namespace. Nothing is attached
or pinned; every fd is closed.

Expectations whose `source` is not "kernel" (programs the distribution's
libbpf 1.1 cannot load: exception callbacks; or semantics this kernel lacks)
are reported, never counted as mismatches. libbpf 1.1 cannot load a program
with an exception callback; those are loaded through the framework's own
bpf() loader (framework.oracle) instead. Exit status: 0 all match, 1 a
mismatch, 2 the kernel or libbpf is not usable here.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
CLONE_NEWNET = 0x40000000
LOG_SIZE = 1 << 22
BPF_PROG_TYPE_SCHED_CLS = 3


class _TestRunOpts(ctypes.Structure):
    """libbpf's struct bpf_test_run_opts (bpf.h)."""

    _fields_ = [
        ("sz", ctypes.c_size_t),
        ("data_in", ctypes.c_void_p),
        ("data_out", ctypes.c_void_p),
        ("data_size_in", ctypes.c_uint32),
        ("data_size_out", ctypes.c_uint32),
        ("ctx_in", ctypes.c_void_p),
        ("ctx_out", ctypes.c_void_p),
        ("ctx_size_in", ctypes.c_uint32),
        ("ctx_size_out", ctypes.c_uint32),
        ("retval", ctypes.c_uint32),
        ("repeat", ctypes.c_int),
        ("duration", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("cpu", ctypes.c_uint32),
        ("batch_size", ctypes.c_uint32),
    ]


def _libbpf() -> ctypes.CDLL:
    lib = ctypes.CDLL("libbpf.so.1", use_errno=True)
    vp, cp = ctypes.c_void_p, ctypes.c_char_p
    for name, res, args in (
        ("bpf_object__open", vp, [cp]),
        ("bpf_object__next_program", vp, [vp, vp]),
        ("bpf_object__load", ctypes.c_int, [vp]),
        ("bpf_object__close", None, [vp]),
        ("bpf_object__find_map_by_name", vp, [vp, cp]),
        ("bpf_program__name", cp, [vp]),
        ("bpf_program__set_autoload", ctypes.c_int, [vp, ctypes.c_bool]),
        ("bpf_program__set_log_buf", ctypes.c_int, [vp, cp, ctypes.c_size_t]),
        ("bpf_program__set_log_level", ctypes.c_int, [vp, ctypes.c_uint32]),
        ("bpf_program__fd", ctypes.c_int, [vp]),
        ("bpf_map__update_elem", ctypes.c_int, [vp, cp, ctypes.c_size_t, cp, ctypes.c_size_t, ctypes.c_uint64]),
        ("bpf_prog_test_run_opts", ctypes.c_int, [ctypes.c_int, ctypes.POINTER(_TestRunOpts)]),
        ("libbpf_set_print", vp, [vp]),
        ("libbpf_probe_bpf_prog_type", ctypes.c_int, [ctypes.c_int, vp]),
    ):
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
    lib.libbpf_set_print(None)
    return lib


@dataclass
class Outcome:
    verdict: str
    log: str
    retvals: dict[str, int]


def packets() -> dict[str, bytes]:
    table = tomllib.loads((HERE / "packets.toml").read_text())["packet"]
    return {name: bytes.fromhex(entry["hex"]) for name, entry in table.items()}


def input_bytes(entry: dict, named: dict[str, bytes]) -> bytes:
    if "packet" in entry:
        return bytes.fromhex(entry["packet"])
    return named[entry["builder"]]


def run_program(
    lib: ctypes.CDLL, obj_path: Path, name: str, inputs: list[dict], named: dict[str, bytes], run: bool = True
) -> Outcome:
    obj = lib.bpf_object__open(str(obj_path).encode())
    if not obj:
        return Outcome("error", f"libbpf cannot open {obj_path}: errno {ctypes.get_errno()}", {})
    log = ctypes.create_string_buffer(LOG_SIZE)
    try:
        target = None
        prog = lib.bpf_object__next_program(obj, None)
        while prog:
            mine = lib.bpf_program__name(prog).decode() == name
            lib.bpf_program__set_autoload(prog, mine)
            if mine:
                target = prog
                lib.bpf_program__set_log_buf(prog, log, LOG_SIZE)
                lib.bpf_program__set_log_level(prog, 1)
            prog = lib.bpf_object__next_program(obj, prog)
        if target is None:
            return Outcome("error", f"no program {name} in {obj_path}", {})
        err = lib.bpf_object__load(obj)
        text = log.value.decode(errors="replace")
        if err:
            return Outcome("rejected", text or f"libbpf: load failed ({err}) before the verifier ran", {})
        fd = lib.bpf_program__fd(target)
        retvals: dict[str, int] = {}
        for entry in inputs if run else ():
            for update in entry.get("map", []):
                bpf_map = lib.bpf_object__find_map_by_name(obj, update["name"].encode())
                key, value = bytes.fromhex(update["key"]), bytes.fromhex(update["value"])
                if not bpf_map or lib.bpf_map__update_elem(bpf_map, key, len(key), value, len(value), 0):
                    raise SystemExit(f"cannot write map {update['name']}")
            data = input_bytes(entry, named)
            buf = ctypes.create_string_buffer(data, len(data))
            opts = _TestRunOpts(sz=ctypes.sizeof(_TestRunOpts), repeat=1)
            opts.data_in = ctypes.cast(buf, ctypes.c_void_p)
            opts.data_size_in = len(data)
            ctx = bytes.fromhex(entry.get("ctx", ""))
            ctx_buf = ctypes.create_string_buffer(ctx, len(ctx))
            if ctx:  # ctx_in: the struct __sk_buff fields BPF_PROG_TEST_RUN lets an input set
                opts.ctx_in = ctypes.cast(ctx_buf, ctypes.c_void_p)
                opts.ctx_size_in = len(ctx)
            if lib.bpf_prog_test_run_opts(fd, ctypes.byref(opts)):
                retvals[entry["name"]] = -ctypes.get_errno()
            else:
                retvals[entry["name"]] = opts.retval
            for update in entry.get("map", []):  # back to all-zero for the next input
                bpf_map = lib.bpf_object__find_map_by_name(obj, update["name"].encode())
                key = bytes.fromhex(update["key"])
                zero = bytes(len(bytes.fromhex(update["value"])))
                lib.bpf_map__update_elem(bpf_map, key, len(key), zero, len(zero), 0)
        return Outcome("accepted", text, retvals)
    finally:
        lib.bpf_object__close(obj)


def run_with_oracle(obj_path: Path, name: str, inputs: list[dict], named: dict[str, bytes], run: bool) -> Outcome:
    """Load and run through framework.oracle (bpf() directly), for what libbpf 1.1 cannot load."""
    from framework.load.corpus import RunInput
    from framework.load.elf import load_object
    from framework.oracle.record import record

    program = next(p for p in load_object(str(obj_path)) if p.name == name)
    runs = [RunInput.from_manifest(e, named, str(obj_path)) for e in inputs if not e.get("map")] if run else []
    rec = record(program, runs, batches=1, repeat=1)
    return Outcome(rec.verdict, rec.message or "", {r.input: r.retval for r in rec.runs})


def last_lines(log: str, n: int = 3) -> str:
    noise = ("verification time", "stack depth", "processed")
    lines = [ln for ln in log.splitlines() if ln.strip() and not ln.startswith(noise)]
    return " | ".join(lines[-n:])


def manifests(paths: list[str]) -> list[Path]:
    if paths:
        return [Path(p).resolve() for p in paths]
    return sorted((HERE / "c").glob("*.toml")) + sorted((HERE / "asm").glob("*.toml"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest", nargs="*")
    parser.add_argument("--show-log", action="store_true", help="print the verifier's last lines for every program")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("stock_check: needs root (bpf() and a fresh netns)", file=sys.stderr)
        return 2
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET):
        print(f"stock_check: unshare(CLONE_NEWNET): errno {ctypes.get_errno()}", file=sys.stderr)
        return 2
    try:
        lib = _libbpf()
    except OSError as exc:
        print(f"stock_check: {exc}", file=sys.stderr)
        return 2
    if str(HERE.parent) not in sys.path:
        sys.path.insert(0, str(HERE.parent))
    if lib.libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SCHED_CLS, None) != 1:
        print("stock_check: this kernel will not load a tc program here (bpf() refused)", file=sys.stderr)
        return 2
    named = packets()
    mismatches = 0
    for path in manifests(args.manifest):
        manifest = tomllib.loads(path.read_text())
        obj_path = HERE / manifest["object"]
        for prog in manifest["program"]:
            expect = prog["expect"]["stock"]
            # A program stock rejects is never run, even where this kernel loads it:
            # global_chain would leak its object on every throw.
            run = expect["verdict"] == "accepted"
            got = run_program(lib, obj_path, prog["name"], prog.get("input", []), named, run)
            tail_calls = any(e.get("prog_array") for e in prog.get("input", []))  # slots libbpf would not fill
            if tail_calls or (got.verdict == "rejected" and "exception callback" in got.log and "func_info" in got.log):
                got = run_with_oracle(obj_path, prog["name"], prog.get("input", []), named, run)
            problems = []
            if got.verdict != expect["verdict"]:
                problems.append(f"verdict {got.verdict}, expected {expect['verdict']}")
            if expect.get("message") and expect["message"] not in got.log:
                problems.append(f"message {expect['message']!r} not in the log")
            for name, value in expect.get("retval", {}).items():
                if got.verdict == "accepted" and got.retvals.get(name) != value:
                    problems.append(f"input {name}: retval {got.retvals.get(name)}, expected {value}")
            counted = expect.get("source", "kernel") == "kernel"
            status = "ok" if not problems else ("MISMATCH" if counted else f"unconfirmed ({expect.get('source')})")
            mismatches += bool(problems) and counted
            print(f"{path.name}:{prog['name']}: {got.verdict} {got.retvals or ''} -- {status}")
            for problem in problems:
                print(f"    {problem}")
            if args.show_log or problems:
                print(f"    log: {last_lines(got.log)}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
