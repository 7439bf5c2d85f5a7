"""Build a C runtime into a flat blob at RUNTIME_BASE, cached by content.

gcc -O2 compiles it freestanding, non-PIC, with frame pointers (the walk
follows rbp), no red zone, SSE or CET, and r9 left alone (-ffixed-r9: the
machine counts the program's instructions there); ld lays `.text.walk`, `.text.lookup`,
`.text.release`, `.text.record` and the rest of `.text` at RUNTIME_BASE and places the
`bakeoff_rt` table at RUNTIME_DATA; objcopy flattens it. The cache
($XDG_CACHE_HOME/bakeoff/runtime/<sha256>) is keyed by the sources, the flags and
the compiler's version; nothing built is committed.

`compiler_missing()` says, in one line, which of those tools is not on PATH (the
command line asks before any work that would build a runtime).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from framework.errors import InternalError
from framework.strategy import STOCK_RUNTIME

__all__ = [
    "CFLAGS",
    "RUNTIME_BASE",
    "RUNTIME_DATA",
    "RUNTIME_DATA_SIZE",
    "STOCK",
    "TOOLS",
    "Runtime",
    "build_runtime",
    "compiler_missing",
    "stock_runtime",
]

RUNTIME_BASE = 0x0600_0000  # framework.machine.memory.RUNTIME_BASE
RUNTIME_DATA = 0x0601_0000  # the bakeoff_rt table (RW)
RUNTIME_DATA_SIZE = 0x2000  # bakeoff_rt: two pages (its scratch holds a runtime's record pool)
HERE = Path(__file__).resolve().parent
STOCK = STOCK_RUNTIME
CFLAGS = (
    "-O2", "-std=gnu11", "-ffreestanding", "-fno-builtin", "-nostdlib", "-fno-pic", "-fno-pie",
    "-mcmodel=small", "-fno-asynchronous-unwind-tables", "-fno-unwind-tables", "-fno-omit-frame-pointer",
    "-mno-red-zone", "-fno-stack-protector", "-fcf-protection=none", "-mno-sse", "-mno-mmx",
    "-fno-optimize-sibling-calls", "-fno-jump-tables",
    "-ffixed-r9",  # r9 holds the machine's instruction count (framework.jit.counters.IN_R9)
)  # fmt: skip
_SCRIPT = f"""
SECTIONS {{
  . = 0x{RUNTIME_BASE:x};
  .text : {{
    __walk_start = .; *(.text.walk) __walk_end = .;
    __lookup_start = .; *(.text.lookup) __lookup_end = .;
    __release_start = .; *(.text.release) __release_end = .;
    __record_start = .; *(.text.record) __record_end = .;
    *(.text .text.*) __text_end = .;
    *(.rodata .rodata.*) __code_end = .;
  }}
  /DISCARD/ : {{ *(.comment) *(.note*) *(.eh_frame*) *(.data*) *(.bss*) }}
  bakeoff_rt = 0x{RUNTIME_DATA:x};
}}
"""
_PARTS = ("walk", "lookup", "release", "record")
# What a build runs: (program, the Debian package that has it, why the build needs it).
TOOLS = (
    ("gcc", "gcc", "the strategies' runtimes are C compiled with gcc"),
    ("ld", "binutils", "the strategies' runtimes are linked at a fixed address with ld"),
    ("objcopy", "binutils", "the strategies' runtimes are flattened into a blob with objcopy"),
    ("nm", "binutils", "the strategies' runtimes' symbols are read with nm"),
)


def compiler_missing() -> str | None:
    """None when every tool a runtime build runs is on PATH; else one line naming the first
    missing, why it is needed and how to install it."""
    for tool, package, why in TOOLS:
        if shutil.which(tool) is None:
            return f"{tool} not found: {why}; install it (apt-get install {package})"
    return None


@dataclass(frozen=True, slots=True)
class Runtime:
    """A built runtime: flat code at `base`, its symbols, and the counted ranges."""

    code: bytes
    base: int
    symbols: tuple[tuple[str, int], ...]

    def symbol(self, name: str) -> int:
        for sym, addr in self.symbols:
            if sym == name:
                return addr
        raise KeyError(name)

    @property
    def throw(self) -> int:
        return self.symbol("bpf_throw")

    def ranges(self) -> dict[str, tuple[tuple[int, int], ...]]:
        """walk / lookup / release (throw time) and record (happy path: a resource table's
        pushes and removals) code ranges; helpers outside the four sections count as walk."""
        out: dict[str, tuple[tuple[int, int], ...]] = {
            p: ((self.symbol(f"__{p}_start"), self.symbol(f"__{p}_end")),) for p in _PARTS
        }
        rest = (self.symbol("__record_end"), self.symbol("__text_end"))
        out["walk"] = (*out["walk"], rest)
        return {k: tuple(r for r in v if r[1] > r[0]) for k, v in out.items()}


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "bakeoff" / "runtime"


def _run(cmd: list[str], cwd: Path) -> str:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise InternalError(f"{' '.join(cmd)} failed: {done.stderr.strip()[-800:]}")
    return done.stdout


def _included(source: Path) -> tuple[Path, ...]:
    """Files beside `source` that it includes (`#include "name"`), e.g. another strategy's runtime."""
    names = re.findall(r'^#include "([^"]+)"', source.read_text(), flags=re.M)
    return tuple(source.parent / n for n in names if (source.parent / n).is_file())


def build_runtime(
    source: Path, headers: tuple[Path, ...] = (HERE / "runtime.h", HERE / "walk.h"), *, tail_calls: bool = False
) -> Runtime:
    """Compile and link `source` (with `headers`, and the files beside it that it includes), or
    take it from the cache. `tail_calls`: built for tail-call targets beside the caller
    (-DBAKEOFF_TAIL_CALLS: each program's own table, walk.h)."""
    headers = (*headers, *_included(source))
    flags = (*CFLAGS, "-DBAKEOFF_TAIL_CALLS") if tail_calls else CFLAGS
    cc = shutil.which("gcc") or "gcc"
    version = _run([cc, "--version"], HERE).splitlines()[0]
    h = hashlib.sha256()
    for part in (source.read_bytes(), *(p.read_bytes() for p in headers), " ".join(flags).encode()):
        h.update(part)
    h.update(_SCRIPT.encode() + version.encode())
    where = _cache_root() / h.hexdigest()[:24]
    blob, syms = where / "runtime.bin", where / "symbols.json"
    if not (blob.is_file() and syms.is_file()):
        where.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=where) as tmp_name:
            tmp = Path(tmp_name)
            for hdr in headers:
                shutil.copy(hdr, tmp / hdr.name)
            shutil.copy(source, tmp / "runtime.c")
            (tmp / "runtime.ld").write_text(_SCRIPT)
            _run([cc, *flags, "-c", "runtime.c", "-o", "runtime.o"], tmp)
            _run(["ld", "-static", "-nostdlib", "-T", "runtime.ld", "-o", "runtime.elf", "runtime.o"], tmp)
            _run(["objcopy", "-O", "binary", "--only-section=.text", "runtime.elf", "runtime.bin"], tmp)
            table = {}
            for line in _run(["nm", "runtime.elf"], tmp).splitlines():
                fields = line.split()
                if len(fields) == 3:
                    table[fields[2]] = int(fields[0], 16)
            os.replace(tmp / "runtime.bin", blob)
            syms.write_text(json.dumps(table, sort_keys=True))
    table = json.loads(syms.read_text())
    return Runtime(blob.read_bytes(), RUNTIME_BASE, tuple(sorted(table.items())))


def stock_runtime() -> Runtime:
    """The stock bpf_throw (framework/runtime/stock.c)."""
    return build_runtime(STOCK)
