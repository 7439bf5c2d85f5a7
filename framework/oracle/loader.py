"""Load a `Program` into the running kernel exactly as the framework assembled it.

Scope (what the corpus needs, and no more):
- program types by name (`Program.prog_type`), `expected_attach_type`, and for
  tracing types (fentry/fexit/fmod_ret) `attach_btf_id` resolved from
  `Program.attach_to` in vmlinux BTF;
- maps: every `MapDef` created with BPF_MAP_CREATE in `Program.maps` order and
  handed over as `fd_array`, so `ld_imm64` with BPF_PSEUDO_MAP_IDX(_VALUE) keeps
  its index (the kernel's fd_array encoding); global data gets its initial
  value and `.rodata*` is created read-only for programs and frozen, as libbpf
  does (bpf_object__create_maps, bpf_object__populate_internal_map);
- BTF: the object's .BTF with libbpf's fix-ups (btf_fixup.py), loaded with
  BPF_BTF_LOAD; func_info and line_info passed as bpf_func_info/bpf_line_info,
  line strings interned in the BTF string section;
- kfunc calls (src BPF_PSEUDO_KFUNC_CALL, imm = index into `Program.kfuncs`)
  rewritten to the vmlinux BTF id of that name (libbpf: bpf_object__resolve_ksym_func_btf_id).
  Kfuncs in module BTF are not supported (none on this machine); such a
  program is an InputError;
- exception callbacks: nothing special is needed beyond BTF and func_info
  (the kernel reads the `exception_callback:` decl tag itself), which is what
  bpftool's libbpf 1.1 gets wrong.
Not supported: CO-RE relocations (`Program.core_relos` must be empty), map-in-map,
struct_ops, freplace targets.

Nothing is attached or pinned. `Loaded` owns every fd and closes them on exit.
"""

from __future__ import annotations

import contextlib
import errno
import struct
from pathlib import Path
from types import TracebackType

from framework.errors import InputError
from framework.isa import opcodes as op
from framework.isa.decode import encode
from framework.isa.insn import Insn
from framework.load.program import MapDef, Program
from framework.oracle import bpf_syscall as sys_
from framework.oracle.btf_fixup import fixup_btf, intern_strings
from framework.oracle.vmlinux import func_ids
from framework.platform.sections import match_section

__all__ = ["BPF_LOG_STATS", "Loaded", "load"]

BPF_LOG_STATS = 4  # uapi BPF_LOG_STATS: "verification time", "stack depth" lines
BPF_F_SLEEPABLE = 1 << 4  # uapi: prog_flags of a sleepable program
_BPF_F_RDONLY_PROG = 1 << 7
_BPF_F_MMAPABLE = 1 << 10
_TRACING_ATTACH = {"trace_fentry", "trace_fexit", "modify_return", "trace_raw_tp", "lsm_mac", "trace_iter"}
_ATTACH_ALIASES = {"fentry": "trace_fentry", "fexit": "trace_fexit", "fmod_ret": "modify_return"}


class Loaded:
    """A program handed to BPF_PROG_LOAD, and every fd that took (closed on exit)."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self.prog: sys_.Fd | None = None
        self.errno = 0
        self.log = ""
        self.log_level = 0
        self.maps: dict[str, sys_.Fd] = {}
        self._stack = contextlib.ExitStack()

    @property
    def accepted(self) -> bool:
        return self.prog is not None

    def map_fd(self, name: str) -> sys_.Fd:
        """The created map of that name (InputError if the program has none)."""
        if name not in self.maps:
            raise InputError(self.program.source, f"{self.program.name}: no map named '{name}'")
        return self.maps[name]

    def own(self, fd: sys_.Fd) -> sys_.Fd:
        return self._stack.enter_context(fd)

    def close(self) -> None:
        self.prog = None
        self._stack.close()

    def __enter__(self) -> Loaded:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def load(program: Program, *, log_level: int = 1, shared: Loaded | None = None) -> Loaded:
    """Create maps and BTF, then BPF_PROG_LOAD with the verifier log at `log_level` (plus BPF_LOG_STATS).

    A rejected program is a `Loaded` with `prog` None, the errno and the log; an
    object the loader cannot hand over (unknown kfunc, CO-RE) is an InputError.
    Map or BTF creation failing is reported the same way as a rejection, with
    the failing command in `log`. With `shared` (a loaded program of the same object), a map
    of the same name is that program's (libbpf: one object's programs share its maps).
    """
    loaded = Loaded(program)
    try:
        _load_into(loaded, program, log_level, shared)
    except BaseException:
        loaded.close()
        raise
    return loaded


def _load_into(loaded: Loaded, program: Program, log_level: int, shared: Loaded | None = None) -> None:
    if program.core_relos:
        raise InputError(program.source, f"{program.name}: CO-RE relocations are not supported by the oracle loader")
    prog_type = sys_.PROG_TYPES.get(program.prog_type)
    if prog_type is None:
        raise InputError(program.source, f"{program.name}: unknown program type '{program.prog_type}'")
    attach_name = _ATTACH_ALIASES.get(program.expected_attach_type or "", program.expected_attach_type or "")
    attach_type = sys_.ATTACH_TYPES.get(attach_name, 0) if attach_name else 0
    if attach_name and attach_name not in sys_.ATTACH_TYPES:
        raise InputError(program.source, f"{program.name}: unknown attach type '{attach_name}'")

    kfunc_ids = func_ids(program.kfuncs)
    missing = [k for k in program.kfuncs if k not in kfunc_ids]
    if missing:
        raise InputError(program.source, f"{program.name}: kfunc not in vmlinux BTF: {', '.join(missing)}")
    attach_btf_id = 0
    if attach_name in _TRACING_ATTACH and program.attach_to:
        target = func_ids((program.attach_to,))
        if not target:
            # libbpf: libbpf_find_attach_btf_id fails the load before the kernel sees the program
            raise InputError(
                program.source,
                f"prog '{program.name}': failed to find kernel BTF type ID of '{program.attach_to}': -ESRCH",
            )
        attach_btf_id = target[program.attach_to]

    try:
        btf_fd, line_strings = _load_btf(loaded, program)
        have = shared.maps if shared is not None else {}
        map_fds = [have[m.name].fd if m.name in have else _create_map(loaded, m, btf_fd) for m in program.maps]
    except sys_.BpfError as exc:
        loaded.errno = exc.errno or 0
        loaded.log = str(exc)
        return

    func_info = b"".join(struct.pack("<II", f.pc, f.type_id) for f in program.func_info) if btf_fd else b""
    line_info = b""
    if btf_fd and program.line_info:
        line_info = b"".join(
            struct.pack(
                "<IIII", li.pc, line_strings[li.file], line_strings[li.text], (li.line << 10) | (li.col & 0x3FF)
            )
            for li in program.line_info
        )
    section = match_section(program.section)
    spec = sys_.ProgLoadAttr(
        prog_type=prog_type,
        prog_flags=BPF_F_SLEEPABLE if section is not None and section.sleepable else 0,  # libbpf: SEC_SLEEPABLE
        insns=encode(_resolve_kfuncs(program, kfunc_ids)),
        license=program.license,
        name=program.name,
        expected_attach_type=attach_type,
        prog_btf_fd=btf_fd,
        func_info=func_info,
        func_info_cnt=len(program.func_info) if func_info else 0,
        line_info=line_info,
        line_info_cnt=len(program.line_info) if line_info else 0,
        fd_array=tuple(map_fds),
        attach_btf_id=attach_btf_id,
        log_level=(log_level | BPF_LOG_STATS) if log_level else 0,
    )
    result = sys_.prog_load(spec)
    loaded.errno, loaded.log, loaded.log_level = result.errno, result.log, spec.log_level
    if result.fd is not None:
        loaded.prog = loaded.own(result.fd)


def _resolve_kfuncs(program: Program, ids: dict[str, int]) -> tuple[Insn | None, ...]:
    out: list[Insn | None] = []
    for insn in program.slots:
        if insn is not None and insn.kind is op.Kind.CALL and insn.src == op.PSEUDO_KFUNC_CALL:
            index = insn.imm
            if not 0 <= index < len(program.kfuncs):
                raise InputError(program.source, f"{program.name}: kfunc index {index} out of range")
            insn = insn.replace(imm=ids[program.kfuncs[index]], off=0)
        out.append(insn)
    return tuple(out)


def _load_btf(loaded: Loaded, program: Program) -> tuple[int, dict[str, int]]:
    if not program.btf:
        return 0, {}
    sizes, symbols = _elf_layout(program.source)
    for m in program.maps:  # a map's value is its section's contents
        sizes.setdefault(m.section, m.value_size)
    data = fixup_btf(program.btf, sizes, symbols)
    texts = tuple(sorted({s for li in program.line_info for s in (li.file, li.text)}))
    data, where = intern_strings(data, texts)
    fd = loaded.own(sys_.btf_load(data))
    return fd.fd, where


def _elf_layout(source: str) -> tuple[dict[str, int], dict[str, int]]:
    """Section sizes and OBJECT symbol values of the ELF the program came from (empty if it is not one)."""
    path = Path(source)
    try:
        with path.open("rb") as fh:
            if fh.read(4) != b"\x7fELF":
                return {}, {}
    except OSError:
        return {}, {}
    from elftools.elf.elffile import ELFFile

    with path.open("rb") as fh:
        elf = ELFFile(fh)
        sizes = {s.name: int(s["sh_size"]) for s in elf.iter_sections()}
        symbols: dict[str, int] = {}
        symtab = elf.get_section_by_name(".symtab")
        if symtab is not None:
            for sym in symtab.iter_symbols():  # type: ignore[attr-defined]
                if sym["st_info"]["type"] == "STT_OBJECT":
                    symbols.setdefault(sym.name, int(sym["st_value"]))
    return sizes, symbols


def _create_map(loaded: Loaded, m: MapDef, btf_fd: int) -> int:
    # libbpf: bpf_object__create_map (internal maps: bpf_object__init_internal_map's flags).
    map_type = sys_.MAP_TYPES.get(m.map_type)
    if map_type is None:
        raise InputError(m.name, f"unknown map type '{m.map_type}'")
    flags = m.flags
    internal = m.section.startswith((".data", ".bss", ".rodata"))
    if internal:
        flags |= _BPF_F_MMAPABLE
        if m.section.startswith(".rodata"):
            flags |= _BPF_F_RDONLY_PROG
    with_btf = btf_fd and (m.btf_key_type_id or m.btf_value_type_id)
    try:
        made = sys_.map_create(
            map_type,
            m.key_size,
            m.value_size,
            m.max_entries,
            flags=flags,
            name=m.name,
            btf_fd=btf_fd if with_btf else 0,
            btf_key_type_id=m.btf_key_type_id if with_btf else 0,
            btf_value_type_id=m.btf_value_type_id if with_btf else 0,
            btf_vmlinux_value_type_id=m.btf_vmlinux_value_type_id,
        )
    except sys_.BpfError as exc:
        if exc.errno in (errno.EPERM, errno.EACCES, errno.ENOSYS):
            raise  # bpf() not permitted here: the oracle says so, it is not this object's fault
        # libbpf: bpf_object__create_maps fails the object before any program reaches the verifier,
        # so there is no verdict to compare
        raise InputError(f"{m.section}: map '{m.name}'", f"{exc.strerror} (the kernel created no map)") from None
    fd = loaded.own(made)
    if internal and m.initial and any(m.initial):
        sys_.map_update(fd, struct.pack("<I", 0), m.initial.ljust(m.value_size, b"\0"))
    if internal and m.section.startswith(".rodata"):
        sys_.map_freeze(fd)
    loaded.maps[m.name] = fd
    return fd.fd
