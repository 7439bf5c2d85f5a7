"""The verifier's test data: small programs and what Linux 6.18.44 says about each.

One TOML file per topic in tests/verify/cases/; its header comment names the
kernel the data was held to ("Held to Linux 6.18.44"), which becomes every
case's `kernel`. Each `[[case]]` is one program and its expected outcome. Fields:

    name        unique within the file
    type        the section (libbpf SEC name: "tc", "xdp", "fentry/...", "syscall")
    asm | c     LLVM assembly (framework.isa.llvm_asm syntax, labels allowed) or C.
                C gets `#include "bakeoff.h"` and a GPL license prepended and is
                compiled with clang-19 -O2 -g -target bpf -mcpu=v3 (cached under
                the temp dir, keyed by a hash of compiler, flags, header and source).
    program     for C: the function to load (default: the only program, else `name`)
    kfuncs      kfuncs the assembly calls by name (checked: each must be called)
    maps        for asm: `# map:` header values ("name=m type=hash key=4 value=8 ...")
    globals     for asm: labels with global linkage
    verdict     "accepted" | "rejected" | "unsupported" (the program needs what the
                project does not model; not held to the kernel, whose verdict it is not)
    message     a line of the log that must contain this text (rejections; for
                unsupported, text of the message naming what is missing)
    error_line  the kernel's last log line, when it is not `message`
    stack_depth the log's `stack depth a+b+c`, as a list
    processed   the log's `processed N insns` (kept where convergence is the point:
                loops, iterators); the model must come within 25% of it
    btf_patch   [[from, to], ...]: same-length byte replacements in the C program's
                BTF strings, made after loading, to reach kernel checks that libbpf (and
                framework.load) refuse before the kernel sees the program (e.g. a decl
                tag naming a missing exception callback)
    regs        { at = PC, r0 = "scalar(...)", ... }: register state at PC, as the
                level-2 log prints it
    source      where the scenario comes from (rewritten in our own code)

`load_cases()` returns frozen `VerifierCase`s; `VerifierCase.program()` the
framework `Program` (asm is assembled with framework.load.asm, C loaded with
framework.load.elf.load_object).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from framework.load.asm import load_asm
from framework.load.elf import load_object
from framework.load.program import Program

__all__ = [
    "CASES_DIR",
    "CFLAGS",
    "CLANG",
    "CaseError",
    "NoCompiler",
    "VerifierCase",
    "load_cases",
    "topics",
]

ROOT = Path(__file__).resolve().parents[2]
CASES_DIR = Path(__file__).resolve().parent / "cases"
INCLUDE = ROOT / "programs" / "include"
CLANG = "clang-19"
CFLAGS = ("-O2", "-g", "-target", "bpf", "-mcpu=v3", "-Wall", "-Wno-unused-function", "-Wno-unused-variable")
PRELUDE = '#include "bakeoff.h"\nchar LICENSE[] SEC("license") = "GPL";\n#line 1 "case.c"\n'
_FIELDS = {
    "name",
    "type",
    "asm",
    "c",
    "program",
    "kfuncs",
    "maps",
    "globals",
    "verdict",
    "message",
    "error_line",
    "stack_depth",
    "processed",
    "regs",
    "source",
    "btf_patch",
}


_HELD = re.compile(r"Held to Linux (\d+\.\d+\.\d+)")


class CaseError(ValueError):
    """A case file that does not follow the format."""


class NoCompiler(RuntimeError):
    """clang-19 is not installed, so a C case cannot be built."""


@dataclass(frozen=True, slots=True)
class VerifierCase:
    topic: str
    kernel: str  # the release the file was held to, e.g. "6.18.44"
    name: str
    type: str
    verdict: str
    source: str
    asm: str | None = None
    c: str | None = None
    program_name: str | None = None
    kfuncs: tuple[str, ...] = ()
    maps: tuple[str, ...] = ()
    globals: tuple[str, ...] = ()
    message: str | None = None
    error_line: str | None = None
    stack_depth: tuple[int, ...] | None = None
    processed: int | None = None
    regs_at: int | None = None
    regs: tuple[tuple[str, str], ...] = field(default=())
    btf_patch: tuple[tuple[str, str], ...] = ()

    @property
    def id(self) -> str:
        return f"{self.topic}/{self.name}"

    @property
    def last_line(self) -> str | None:
        """The kernel's last log line for a rejection: `error_line`, else `message`."""
        return self.error_line if self.error_line is not None else self.message

    def program(self) -> Program:
        """The framework `Program` (raises NoCompiler for a C case without clang-19)."""
        if self.asm is not None:
            return _asm_program(self)
        assert self.c is not None
        progs = load_object(str(_compile(self.c)))
        wanted = self.program_name
        if wanted is None and len(progs) == 1:
            return self._patched(progs[0])
        wanted = wanted or self.name
        for prog in progs:
            if prog.name == wanted:
                return self._patched(prog)
        raise CaseError(f"{self.id}: no program '{wanted}' in {[p.name for p in progs]}")

    def _patched(self, prog: Program) -> Program:
        btf = prog.btf
        for old, new in self.btf_patch:
            a, b = old.encode(), new.encode()
            if len(a) != len(b) or btf.count(a) != 1:
                raise CaseError(f"{self.id}: btf_patch '{old}' must occur once and keep its length")
            btf = btf.replace(a, b)
        return dataclasses.replace(prog, btf=btf) if btf != prog.btf else prog


def _asm_program(case: VerifierCase) -> Program:
    header = [f"# program: {case.name}", f"# section: {case.type}"]
    header += [f"# map: {m}" for m in case.maps]
    header += [f"# kfunc: {k}" for k in case.kfuncs]
    header += [f"# global: {g}" for g in case.globals]
    text = "\n".join(header) + "\n" + (case.asm or "")
    path = _cache_dir() / f"{hashlib.sha256(text.encode()).hexdigest()[:24]}.s"
    if not path.exists():
        _write_atomic(path, text.encode())
    (prog,) = load_asm(str(path))
    called = set(prog.kfuncs)
    unused = [k for k in case.kfuncs if k not in called]
    if unused or called - set(case.kfuncs):
        raise CaseError(f"{case.id}: kfuncs {sorted(case.kfuncs)} but the asm calls {sorted(called)}")
    return prog


def _cache_dir() -> Path:
    path = Path(tempfile.gettempdir()) / "bakeoff-verify-cases"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


@functools.cache
def _clang_version(clang: str) -> str:
    return subprocess.run([clang, "--version"], capture_output=True, text=True, check=True).stdout


def _multiarch_include() -> list[str]:
    """Debian keeps <asm/types.h> under /usr/include/<triple> (as programs/build.py finds it)."""
    for triple in ("x86_64-linux-gnu", "aarch64-linux-gnu"):
        path = Path("/usr/include") / triple
        if (path / "asm" / "types.h").exists():
            return ["-idirafter", str(path)]
    return []


def _compile(source: str) -> Path:
    clang = shutil.which(CLANG)
    if clang is None:
        raise NoCompiler(f"{CLANG} is not installed (apt-get install clang-19)")
    header = (INCLUDE / "bakeoff.h").read_bytes()
    key = hashlib.sha256()
    for part in (_clang_version(clang).encode(), " ".join(CFLAGS).encode(), header, PRELUDE.encode(), source.encode()):
        key.update(hashlib.sha256(part).digest())
    out = _cache_dir() / f"{key.hexdigest()[:24]}.o"
    if out.exists():
        return out
    src = out.with_suffix(".c")
    _write_atomic(src, (PRELUDE + source).encode())
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".o.tmp")
    os.close(fd)
    cmd = [clang, *CFLAGS, "-I", str(INCLUDE), *_multiarch_include(), "-c", str(src), "-o", tmp]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        Path(tmp).unlink(missing_ok=True)
        raise CaseError(f"clang-19 failed on {src}:\n{proc.stderr}")
    os.replace(tmp, out)
    return out


def _strs(case_id: str, raw: dict[str, Any], key: str) -> tuple[str, ...]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CaseError(f"{case_id}: '{key}' must be a list of strings")
    return tuple(value)


def _opt_str(case_id: str, raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        raise CaseError(f"{case_id}: '{key}' must be a string")
    return value


def _case(topic: str, kernel: str, raw: dict[str, Any]) -> VerifierCase:
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise CaseError(f"{topic}: a case without a name")
    case_id = f"{topic}/{name}"
    unknown = set(raw) - _FIELDS
    if unknown:
        raise CaseError(f"{case_id}: unknown fields {sorted(unknown)}")
    asm, c = _opt_str(case_id, raw, "asm"), _opt_str(case_id, raw, "c")
    if (asm is None) == (c is None):
        raise CaseError(f"{case_id}: exactly one of 'asm' and 'c'")
    verdict = raw.get("verdict")
    if verdict not in ("accepted", "rejected", "unsupported"):
        raise CaseError(f"{case_id}: verdict must be 'accepted', 'rejected' or 'unsupported'")
    message = _opt_str(case_id, raw, "message")
    if verdict != "accepted" and message is None:
        raise CaseError(f"{case_id}: a {verdict} case needs a message")
    type_ = raw.get("type")
    if not isinstance(type_, str):
        raise CaseError(f"{case_id}: 'type' (the section) is required")
    source = raw.get("source")
    if not isinstance(source, str) or not source:
        raise CaseError(f"{case_id}: 'source' is required")
    depth = raw.get("stack_depth")
    if depth is not None and not (isinstance(depth, list) and all(isinstance(d, int) for d in depth)):
        raise CaseError(f"{case_id}: 'stack_depth' must be a list of integers")
    processed = raw.get("processed")
    if processed is not None and (not isinstance(processed, int) or isinstance(processed, bool) or processed < 1):
        raise CaseError(f"{case_id}: 'processed' must be a positive integer")
    patch_raw = raw.get("btf_patch", [])
    if not (
        isinstance(patch_raw, list)
        and all(isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in patch_raw)
    ):
        raise CaseError(f"{case_id}: 'btf_patch' must be a list of [from, to] string pairs")
    if patch_raw and c is None:
        raise CaseError(f"{case_id}: 'btf_patch' applies to C cases only")
    regs_raw = raw.get("regs")
    regs_at: int | None = None
    regs: tuple[tuple[str, str], ...] = ()
    if regs_raw is not None:
        if not isinstance(regs_raw, dict) or not isinstance(regs_raw.get("at"), int):
            raise CaseError(f"{case_id}: 'regs' must be a table with an integer 'at'")
        regs_at = regs_raw["at"]
        regs = tuple(sorted((k, str(v)) for k, v in regs_raw.items() if k != "at"))
    return VerifierCase(
        topic=topic,
        kernel=kernel,
        name=name,
        type=type_,
        verdict=verdict,
        source=source,
        asm=asm,
        c=c,
        program_name=_opt_str(case_id, raw, "program"),
        kfuncs=_strs(case_id, raw, "kfuncs"),
        maps=_strs(case_id, raw, "maps"),
        globals=_strs(case_id, raw, "globals"),
        message=message,
        error_line=_opt_str(case_id, raw, "error_line"),
        stack_depth=tuple(depth) if depth is not None else None,
        processed=processed,
        regs_at=regs_at,
        regs=regs,
        btf_patch=tuple((p[0], p[1]) for p in patch_raw),
    )


def topics(directory: Path = CASES_DIR) -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in directory.glob("*.toml")))


def load_cases(topic: str | None = None, directory: Path = CASES_DIR) -> tuple[VerifierCase, ...]:
    """Every case of `topic` (a file stem), or of every file, in file order."""
    out: list[VerifierCase] = []
    names: set[str] = set()
    for stem in (topic,) if topic else topics(directory):
        path = directory / f"{stem}.toml"
        with path.open("rb") as fh:
            raw_text = fh.read()
        data = tomllib.loads(raw_text.decode("utf-8"))
        header = "\n".join(ln for ln in raw_text.decode("utf-8").splitlines()[:12] if ln.startswith("#"))
        held = _HELD.search(header)
        if held is None:
            raise CaseError(f"{path}: the header comment must say 'Held to Linux X.Y.Z'")
        entries = data.get("case", [])
        if not isinstance(entries, list):
            raise CaseError(f"{path}: [[case]] tables expected")
        for raw in entries:
            case = _case(stem, held.group(1), raw)
            if case.id in names:
                raise CaseError(f"{case.id}: duplicate name")
            names.add(case.id)
            out.append(case)
    return tuple(out)
