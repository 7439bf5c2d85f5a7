#!/usr/bin/env python3
"""Build the corpus: programs/c/*.bpf.c and programs/asm/*.s into programs/obj/*.o.

    python programs/build.py            # rebuild every object and BUILD-INFO.txt
    python programs/build.py --check    # rebuild into a temp dir, compare byte for byte

Objects are reproducible: sources are compiled by relative path from the
repository root with the root mapped away (-ffile-prefix-map), DWARF is
stripped (.BTF and .BTF.ext stay), and nothing else in the output depends on
where or when it was built. The tools and flags are recorded in
programs/obj/BUILD-INFO.txt, which --check compares too.

Assembly sources use LLVM 19's BPF syntax, except load-acquire and
store-release (LLVM 21 syntax, which llvm-mc-19 rejects): those lines are
assembled by framework.isa and handed to llvm-mc-19 as raw `.quad` words.
"""

from __future__ import annotations

import argparse
import difflib
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = Path("programs")
OBJ = PROGRAMS / "obj"

CLANG = "clang-19"
LLVM_MC = "llvm-mc-19"
LLVM_STRIP = "llvm-strip-19"

# Sources that need cpu v4 (sign-extending loads, gotol, ...) say so on a line
# of their own: `// mcpu: v4`.
_MCPU = re.compile(r"^\s*//\s*mcpu:\s*(v[1-4])\s*$", re.M)
_LLVM21_ONLY = re.compile(r"\b(load_acquire|store_release)\s*\(")


def _run(cmd: list[str], **kwargs: object) -> str:
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    if done.returncode:
        sys.exit(f"build: {' '.join(cmd)} failed:\n{done.stderr}")
    return str(done.stdout)


def _version(tool: str) -> str:
    return _run([tool, "--version"]).strip().splitlines()[0].strip()


def _llvm_version(tool: str) -> str:
    text = _run([tool, "--version"])
    m = re.search(r"LLVM version (\S+)", text)
    return m.group(1) if m else text.strip().splitlines()[0]


def _multiarch_include() -> list[str]:
    """The directory that holds <asm/types.h> for the uapi headers (Debian multiarch)."""
    triple = sysconfig.get_config_var("MULTIARCH") or f"{platform.machine()}-linux-gnu"
    path = Path("/usr/include") / triple
    return ["-idirafter", str(path)] if triple and path.is_dir() else []


def c_flags(source: Path) -> list[str]:
    m = _MCPU.search((ROOT / source).read_text())
    mcpu = m.group(1) if m else "v3"
    return [
        "-O2",
        "-g",
        "-target",
        "bpf",
        f"-mcpu={mcpu}",
        "-Wall",
        "-Werror",
        f"-ffile-prefix-map={ROOT}=.",
        f"-fdebug-prefix-map={ROOT}=.",
        "-I",
        str(PROGRAMS / "include"),
        *_multiarch_include(),
    ]


def object_name(source: Path) -> str:
    return source.name.removesuffix(".bpf.c").removesuffix(".s") + ".o"


def build_c(source: Path, out: Path) -> list[str]:
    cmd = [CLANG, *c_flags(source), "-c", str(source), "-o", str(out)]
    _run(cmd)
    strip = [LLVM_STRIP, "-g", str(out)]
    _run(strip)
    return [_display(cmd, out), _display(strip, out)]


def raw_word(line: str) -> str:
    """A load-acquire/store-release line as the `.quad` llvm-mc-19 can assemble."""
    from framework.isa.llvm_asm import parse_line, strip_comment

    text = strip_comment(line)
    label = ""
    m = re.fullmatch(r"(\s*[A-Za-z_.$][\w.$]*\s*:)(.*)", text)
    if m:
        label, text = m.group(1), m.group(2)
    insn = parse_line(text.strip())
    word = int.from_bytes(insn.encode(), "little")  # type: ignore[union-attr]
    return f"{label}\t.quad 0x{word:016x}\t# {text.strip()}"


def preprocess_asm(text: str) -> str:
    return "".join(
        raw_word(line) + "\n" if _LLVM21_ONLY.search(line.split("#")[0]) else line + "\n" for line in text.splitlines()
    )


def build_asm(source: Path, out: Path, scratch: Path) -> list[str]:
    lowered = scratch / source.name
    lowered.write_text(preprocess_asm((ROOT / source).read_text()))
    cmd = [LLVM_MC, "-triple=bpfel", "-mcpu=v4", "-filetype=obj", "-o", str(out), str(lowered)]
    _run(cmd)
    return [_display([*cmd[:-1], f"<{source} with load_acquire/store_release as .quad>"], out)]


def _display(cmd: list[str], out: Path) -> str:
    """The command as BUILD-INFO.txt records it: the same on every machine."""
    shown = [f"programs/obj/{out.name}" if arg == str(out) else arg.replace(str(ROOT), "<root>") for arg in cmd]
    return " ".join(shown)


def sources() -> list[Path]:
    found = sorted((ROOT / PROGRAMS / "c").glob("*.bpf.c")) + sorted((ROOT / PROGRAMS / "asm").glob("*.s"))
    return [p.relative_to(ROOT) for p in found]


def build_all(dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    info = [
        "# Written by programs/build.py; do not edit.",
        f"clang: {_version(CLANG)}",
        f"llvm-mc: {LLVM_MC} (LLVM {_llvm_version(LLVM_MC)})",
        f"llvm-strip: {LLVM_STRIP} (LLVM {_llvm_version(LLVM_STRIP)})",
        "commands (run from the repository root):",
    ]
    with tempfile.TemporaryDirectory(prefix="bakeoff-build-") as tmp:
        for source in sources():
            out = dest / object_name(source)
            cmds = build_asm(source, out, Path(tmp)) if source.suffix == ".s" else build_c(source, out)
            info.extend(f"  {c}" for c in cmds)
    (dest / "BUILD-INFO.txt").write_text("\n".join(info) + "\n")


def check() -> int:
    with tempfile.TemporaryDirectory(prefix="bakeoff-check-") as tmp:
        fresh = Path(tmp)
        build_all(fresh)
        committed = ROOT / OBJ
        bad = 0
        for path in sorted(fresh.iterdir()):
            old = committed / path.name
            if not old.exists():
                print(f"missing: {OBJ / path.name}")
                bad += 1
            elif old.read_bytes() != path.read_bytes():
                print(f"differs: {OBJ / path.name}")
                if path.suffix == ".txt":
                    sys.stdout.writelines(
                        difflib.unified_diff(old.read_text().splitlines(True), path.read_text().splitlines(True))
                    )
                bad += 1
        for old in sorted(committed.glob("*.o")):
            if not (fresh / old.name).exists():
                print(f"stale (no source): {OBJ / old.name}")
                bad += 1
    print("corpus objects are up to date" if not bad else f"{bad} object(s) out of date")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="rebuild into a temp dir and compare")
    args = parser.parse_args(argv)
    for tool in (CLANG, LLVM_MC, LLVM_STRIP):
        if shutil.which(tool) is None:
            sys.exit(f"build: {tool} is not installed")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    if args.check:
        return check()
    build_all(ROOT / OBJ)
    return 0


if __name__ == "__main__":
    sys.exit(main())
