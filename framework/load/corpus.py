"""The corpus manifests (programs/README.md): what each program is fed and what is expected of it.

One TOML manifest per source (`programs/c/<name>.toml`, `programs/asm/<name>.toml`):
`object` relative to programs/, one `[[program]]` per program with its
`[[program.input]]`s (`builder`: a packet of programs/packets.toml, or `packet`
in hex; the emulated kernel's `tasks`, `sockets`, `cgroups`; `map` entries set
before the run; `prog_array` slots filled with programs of the object; `ctx`
for program types that take one; `timeout`, an input no run finishes within
the program's `time_limit_s`), `[program.expect.<strategy>]` and the
`[program.kernel]` truth the oracle records. Every engine, the oracle
and the command line read inputs through this module.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from framework.errors import Coord, InputError
from framework.load.prog_array import ProgArraySlot
from framework.load.program import Program

__all__ = [
    "CORPUS",
    "CgroupSpec",
    "CorpusEntry",
    "MapEntry",
    "RunInput",
    "SocketSpec",
    "corpus_entries",
    "entries_for_object",
    "manifests",
    "packets",
]

CORPUS = Path(__file__).resolve().parents[2] / "programs"


@dataclass(frozen=True, slots=True)
class SocketSpec:
    proto: str = "tcp"  # "tcp" | "udp"
    family: str = "ipv4"  # "ipv4" | "ipv6"
    local: str = "0.0.0.0:0"  # "addr:port" ("[addr]:port" for ipv6)
    remote: str | None = None
    state: str = "listen"  # "listen" | "established"


@dataclass(frozen=True, slots=True)
class CgroupSpec:
    id: int
    level: int = 1


@dataclass(frozen=True, slots=True)
class MapEntry:
    """A map element set before the run (array key: the index, little-endian u32)."""

    name: str
    key: bytes
    value: bytes


@dataclass(frozen=True, slots=True)
class RunInput:
    """One declared input of a program: the packet and the kernel state the run sees."""

    name: str = "default"
    packet: bytes | None = None
    tasks: tuple[int, ...] = ()  # pids that exist besides the current task
    sockets: tuple[SocketSpec, ...] = ()
    cgroups: tuple[CgroupSpec, ...] = ()
    maps: tuple[MapEntry, ...] = ()
    ctx: bytes | None = None  # ctx_in, for program types that take one
    prog_array: tuple[ProgArraySlot, ...] = ()  # prog_array slots filled before the run (tail calls)

    @classmethod
    def from_manifest(cls, entry: Mapping[str, Any], packets: Mapping[str, bytes], where: str = "manifest") -> RunInput:
        """A `[[program.input]]` table: `builder` (a named packet) or `packet` (hex), tasks, sockets, cgroups, map."""
        try:
            if "packet" in entry or "hex" in entry:
                packet: bytes | None = bytes.fromhex(entry.get("packet", entry.get("hex", "")))
            elif "builder" in entry:
                if entry["builder"] not in packets:
                    raise InputError(where, f"unknown packet builder '{entry['builder']}'")
                packet = packets[entry["builder"]]
            else:
                packet = None
            sockets = tuple(SocketSpec(**s) for s in entry.get("sockets", ()))
            cgroups = tuple(CgroupSpec(**c) for c in entry.get("cgroups", ()))
            maps = tuple(
                MapEntry(m["name"], bytes.fromhex(m["key"]), bytes.fromhex(m["value"])) for m in entry.get("map", ())
            )
            ctx = bytes.fromhex(entry["ctx"]) if "ctx" in entry else None
            prog_array = tuple(
                ProgArraySlot(str(p["map"]), int(p["index"]), str(p["program"])) for p in entry.get("prog_array", ())
            )
            return cls(
                str(entry.get("name", "default")),
                packet,
                tuple(int(p) for p in entry.get("tasks", ())),
                sockets,
                cgroups,
                maps,
                ctx,
                prog_array,
            )
        except (TypeError, ValueError, KeyError) as exc:
            raise InputError(where, f"bad program input: {exc}") from None


def packets(root: Path = CORPUS) -> dict[str, bytes]:
    """The named packets of programs/packets.toml (none when it is absent)."""
    path = root / "packets.toml"
    if not path.is_file():
        return {}
    try:
        table = tomllib.loads(path.read_text()).get("packet", {})
        return {name: bytes.fromhex(entry["hex"]) for name, entry in table.items()}
    except (tomllib.TOMLDecodeError, KeyError, ValueError, TypeError) as exc:
        raise InputError(Coord(str(path)), f"bad packet table: {exc}") from None


@dataclass(frozen=True, slots=True)
class CorpusEntry:
    """One `[[program]]` of a manifest: the program, its inputs, and the manifest's table for it."""

    manifest: Path
    program: Program
    inputs: tuple[RunInput, ...]
    spec: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def live_safe(self) -> bool:
        """False where the fixed semantics reject the program (DESIGN.md's known class: a throw
        from a global subprog while the caller holds a reference): Linux 6.18.44 accepts it and
        leaks what it holds on every throw, so it is loaded there but never test-run."""
        return bool(self.spec.get("expect", {}).get("stock", {}).get("verdict") != "rejected")

    @property
    def live_inputs(self) -> tuple[RunInput, ...]:
        """The inputs that may be test-run on the live kernel."""
        return self.inputs if self.live_safe else ()

    @property
    def force_hits(self) -> tuple[int, ...]:
        """`force_hit`: the reaches of a throw's guard that forcing takes besides the first (loops)."""
        hit = self.spec.get("force_hit")
        return () if hit is None else tuple(hit) if isinstance(hit, list) else (hit,)

    @property
    def time_limit_s(self) -> float | None:
        """`time_limit_s`: how long a run of it may take before it ends as a `timeout` (None: the default)."""
        limit = self.spec.get("time_limit_s")
        return None if limit is None else float(limit)

    @property
    def timeout_inputs(self) -> frozenset[str]:
        """The inputs marked `timeout = true`: the emulator cannot finish them within `time_limit_s`
        (the live kernel's return value stands alone), so every run of one as the input goes (no
        throw forced) must end as a `timeout`."""
        inputs = self.spec.get("input", ())
        return frozenset(str(i.get("name", "default")) for i in inputs if i.get("timeout") is True)

    @property
    def unsupported(self) -> str | None:
        """`unsupported`: what the machine's runs of it stop at, as the run says (a part of its fault's
        reason): the JIT does not model something every run reaches (tail calls), so each run
        there is `unsupported`, and the interpreter's runs alone are held to the kernel."""
        reason = self.spec.get("unsupported")
        return None if reason is None else str(reason)

    def twin_retvals(self, entries: Mapping[str, CorpusEntry]) -> dict[str, int]:
        """The hand-cleaned twin's (`clean_twin`, among `entries` by name) live-kernel return value per input."""
        twin = entries.get(self.spec.get("clean_twin", ""))
        return dict(twin.spec.get("kernel", {}).get("retval", {})) if twin is not None else {}


def manifests(root: Path = CORPUS) -> list[Path]:
    return sorted(root.glob("c/*.toml")) + sorted(root.glob("asm/*.toml"))


def _root_of(manifest: Path) -> Path:
    # programs/c/<name>.toml and programs/asm/<name>.toml: paths inside are relative to programs/
    return manifest.resolve().parent.parent


def corpus_entries(manifest: Path) -> list[CorpusEntry]:
    """Every program a manifest declares, loaded from its object, with its inputs."""
    from framework.load.elf import load_object

    where = str(manifest)
    try:
        doc = tomllib.loads(manifest.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(Coord(where), f"cannot read manifest: {exc}") from None
    root = _root_of(manifest)
    if "object" not in doc:
        raise InputError(Coord(where), "no 'object' key")
    by_name = {p.name: p for p in load_object(str(root / doc["object"]))}
    named = packets(root)
    entries = []
    for spec in doc.get("program", ()):
        if spec.get("name") not in by_name:
            raise InputError(Coord(where), f"program '{spec.get('name')}' is not in {doc['object']}")
        inputs = tuple(RunInput.from_manifest(i, named, where) for i in spec.get("input", ()))
        entries.append(CorpusEntry(manifest, by_name[spec["name"]], inputs, spec))
    return entries


def entries_for_object(path: str | Path, root: Path = CORPUS) -> list[CorpusEntry]:
    """The manifest entries of the corpus object at `path` (none for a file outside the corpus)."""
    target = Path(path).resolve()
    for manifest in manifests(root):
        try:
            obj = tomllib.loads(manifest.read_text()).get("object")
        except tomllib.TOMLDecodeError:
            continue
        if obj is not None and (_root_of(manifest) / obj).resolve() == target:
            return corpus_entries(manifest)
    return []
