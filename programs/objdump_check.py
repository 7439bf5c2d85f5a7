#!/usr/bin/env python3
"""Hold `bakeoff disasm` to llvm-objdump-19 on every object under the directories named.

    python programs/objdump_check.py DIR... [--mcpu v1|v2|v3|v4] [-r] [--show N]

For every `*.o` under each DIR (recursively): `llvm-objdump-19 -d` (with `--mcpu` and
`-r` when given) and `bakeoff disasm` with the same options, run in this process.
Counted: the objects llvm-objdump reads (exit 0), those `disasm` reads (exit 0), and,
over the objects both read, the instruction lines llvm-objdump prints and how many
of them `disasm` prints the same (same section, same place, the whole line: pc, bytes,
text and `<sym+0xNN>`), and likewise the symbol lines (`<16 hex> <sym>:`) and, with
`-r`, the relocation lines; then how many whole outputs are byte for byte the same.
The first N differing lines are printed (default 20). Exit status: 0 every object
llvm-objdump reads is read and every line is the same, 1 otherwise, 2 no llvm-objdump-19.
Not part of the test suite: the objects are not the project's (vbpf/ebpf-samples, say).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from framework.cli import main as bakeoff

OBJDUMP = "llvm-objdump-19"
SECTION = re.compile(r"^Disassembly of section (.*):$")
KINDS = {  # line kind -> how it is recognised
    "instruction": re.compile(r"^ *\d+:\t"),
    "symbol": re.compile(r"^[0-9a-f]{16} <.*>:$"),
    "relocation": re.compile(r"^\t\t[0-9a-f]{16}:  "),
}


@dataclass(frozen=True, slots=True)
class Listing:
    """An output's lines of each kind, per section, in order."""

    lines: dict[tuple[str, str], list[str]]  # (section, kind) -> lines


def parse(text: str) -> Listing:
    lines: dict[tuple[str, str], list[str]] = {}
    section = ""
    for line in text.splitlines():
        m = SECTION.match(line)
        if m:
            section = m[1]
            continue
        for kind, pattern in KINDS.items():
            if pattern.match(line):
                lines.setdefault((section, kind), []).append(line)
    return Listing(lines)


def ours(path: Path, options: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = bakeoff(["disasm", str(path), *options])
    return code, out.getvalue() if code == 0 else err.getvalue().strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("dirs", nargs="+", metavar="DIR")
    parser.add_argument("--mcpu", choices=["v1", "v2", "v3", "v4"])
    parser.add_argument("-r", "--reloc", action="store_true")
    parser.add_argument("--show", type=int, default=20, metavar="N")
    args = parser.parse_args(argv)
    if shutil.which(OBJDUMP) is None:
        print(f"{OBJDUMP} not found (apt-get install llvm-19)", file=sys.stderr)
        return 2
    options = ([f"--mcpu={args.mcpu}"] if args.mcpu else []) + (["-r"] if args.reloc else [])
    objects = sorted(p for d in args.dirs for p in Path(d).rglob("*.o"))
    count: Counter[str] = Counter()
    shown: list[str] = []
    for path in objects:
        count["objects"] += 1
        theirs = subprocess.run([OBJDUMP, "-d", *options, str(path)], capture_output=True, text=True)
        if theirs.returncode:
            continue
        count["llvm-objdump reads"] += 1
        code, text = ours(path, options)
        if code:
            shown.append(f"{path}: not read: {text}")
            continue
        count["disasm reads"] += 1
        count["outputs identical"] += text == theirs.stdout
        want, got = parse(theirs.stdout), parse(text)
        for (section, kind), lines in want.lines.items():
            mine = got.lines.get((section, kind), [])
            same = sum(a == b for a, b in zip(lines, mine, strict=False))
            count[f"{kind} lines"] += len(lines)
            count[f"{kind} lines equal"] += same
            if same < len(lines) or len(mine) != len(lines):
                diff = next(((a, b) for a, b in zip(lines, mine, strict=False) if a != b), None)
                shown.append(f"{path}:{section}: {kind}s: {same} of {len(lines)} equal, {len(mine)} printed; {diff}")
        for key in set(got.lines) - set(want.lines):
            shown.append(f"{path}:{key[0]}: {len(got.lines[key])} {key[1]} lines llvm-objdump does not print")
    for line in shown[: args.show]:
        print(line)
    if len(shown) > args.show:
        print(f"... and {len(shown) - args.show} more")
    order = ["objects", "llvm-objdump reads", "disasm reads", "outputs identical"]
    for kind in KINDS:
        order += [f"{kind} lines", f"{kind} lines equal"]
    print("; ".join(f"{key}: {count[key]:,}" for key in order if key in count or "lines" not in key))
    ok = count["llvm-objdump reads"] == count["disasm reads"] and not shown
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
