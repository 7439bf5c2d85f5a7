"""clang `-target bpf` objects to `Program`s, assembled as libbpf assembles them.

Per program: its own code first, then every .text function it reaches (calls and
`ld_imm64` function pointers), appended once each, depth first in first-use
order (libbpf: bpf_object__reloc_code / bpf_object__append_subprog_code), then
the exception callback its BTF decl tag names, even when nothing calls it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from framework.errors import Coord, InputError
from framework.isa import opcodes as op
from framework.isa.decode import DecodeError, decode
from framework.isa.insn import SLOT, Insn, UnknownOpcode
from framework.isa.opcodes import Kind as IKind
from framework.load import core
from framework.load.btf import FUNC_GLOBAL, FUNC_STATIC, Btf, BtfType, Kind, parse_btf
from framework.load.btf_ext import BtfExt, parse_btf_ext
from framework.load.elf_file import (
    SHN_LORESERVE,
    SHN_UNDEF,
    STB_LOCAL,
    STT_FUNC,
    STT_NOTYPE,
    STT_SECTION,
    STV_HIDDEN,
    STV_INTERNAL,
    ElfObject,
    Section,
    Symbol,
    read_elf,
)
from framework.load.maps import LEGACY_MAPS, ObjectMaps, collect_maps, data_kind, fixup_datasecs
from framework.load.program import CoreRelo, FuncInfo, LineInfo, Linkage, LoadFailure, Program, Subprog, strict
from framework.platform.sections import match_section

EXC_CB_TAG = "exception_callback:"


@dataclass(frozen=True, slots=True)
class _Func:
    """A function symbol in a code section; start/end in instructions within the section."""

    name: str
    sec: Section
    start: int
    end: int
    global_sym: bool
    hidden: bool = False  # global with hidden/internal visibility: static to the kernel


@dataclass(frozen=True, slots=True)
class _Relo:
    """libbpf's reloc_desc: kind is map, data, kfunc, call, func_addr."""

    kind: str
    symbol: Symbol
    map_idx: int = 0


class _Object:
    """One object file, read and checked; `program(f)` assembles one program."""

    def __init__(self, path: str, data: bytes) -> None:
        self.path = path
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.elf: ElfObject = read_elf(path, data)
        btf_sec = self.elf.by_name(".BTF")
        self.btf: Btf | None = parse_btf(btf_sec.data, source=path) if btf_sec is not None else None
        if self.btf is not None:
            self.btf = fixup_datasecs(self.elf, self.btf)
        ext_sec = self.elf.by_name(".BTF.ext")
        self.ext = parse_btf_ext(ext_sec.data, self.btf, source=path) if ext_sec is not None and self.btf else BtfExt()
        lic = self.elf.by_name("license")
        self.license = lic.data.split(b"\0", 1)[0].decode("utf-8", "replace") if lic is not None else ""
        self.maps: ObjectMaps = collect_maps(self.elf, self.btf)
        self.code: dict[int, list[Insn | None]] = {}
        for sec in self.elf.sections:
            if sec.is_code and sec.size:
                try:
                    self.code[sec.index] = list(decode(sec.data))
                except DecodeError as exc:
                    raise InputError(Coord(path, sec.name, exc.offset), exc.message) from None
        self.text = self.elf.by_name(".text")
        self.funcs = self._functions()
        if self.btf is not None:
            self.btf = self._mark_hidden_static(self.btf)
        self.btf_bytes = self.btf.encode() if self.btf is not None else b""
        self.relos = self._relocations()
        self.core_kept = self._apply_core()

    # -- functions (libbpf: bpf_object__add_programs) -----------------------------
    def _functions(self) -> list[_Func]:
        funcs = []
        for sym in self.elf.symbols:
            if sym.type != STT_FUNC or sym.shndx not in self.code:
                continue
            sec = self.elf.sections[sym.shndx]
            where = Coord(self.path, sec.name, sym.value)
            if sym.value % SLOT or sym.size % SLOT or sym.value + sym.size > sec.size or not sym.size:
                raise InputError(where, f"function '{sym.name}' crosses its section's bounds")
            is_text = self.text is not None and sec.index == self.text.index
            if not is_text and sym.bind == STB_LOCAL:
                raise InputError(where, f"program '{sym.name}' is static and not supported")
            start, end = sym.value // SLOT, (sym.value + sym.size) // SLOT
            if self.code[sec.index][start] is None:
                raise InputError(where, f"function '{sym.name}' starts inside an ld_imm64")
            hidden = sym.bind != STB_LOCAL and sym.visibility in (STV_HIDDEN, STV_INTERNAL)
            funcs.append(_Func(sym.name, sec, start, end, sym.bind != STB_LOCAL, hidden))
        return funcs + self._untyped_programs({f.sec.index for f in funcs})

    def _untyped_programs(self, typed: set[int]) -> list[_Func]:
        """Objects from clang before function symbols were typed: a program section without any
        STT_FUNC symbol is one program, named by its global symbol at offset 0 (libbpf before 0.2:
        the whole section was the program, named in bpf_object__init_prog_names; libbpf 1.x, which
        wants STT_FUNC symbols, finds no program there)."""
        out = []
        for index, slots in self.code.items():
            sec = self.elf.sections[index]
            if index in typed or (self.text is not None and index == self.text.index) or not slots:
                continue
            name = next(
                (
                    sym.name
                    for sym in self.elf.symbols
                    if sym.shndx == index and sym.value == 0 and sym.bind != STB_LOCAL and sym.type == STT_NOTYPE
                ),
                None,
            )
            if name is not None and slots[0] is not None:
                out.append(_Func(name, sec, 0, len(slots), True))
        return out

    def _mark_hidden_static(self, btf: Btf) -> Btf:
        """Hidden global functions become static FUNCs (libbpf: mark_btf_static in bpf_object_fixup_btf)."""
        changes = {}
        for f in self.funcs:
            type_id = btf.find(f.name, Kind.FUNC) if f.hidden else None
            if type_id is not None:
                t = btf.type(type_id)
                changes[type_id] = BtfType(t.kind, t.name_off, t.info & ~0xFFFF | FUNC_STATIC, t.size_type, t.extra)
        return btf.with_types(changes) if changes else btf

    def _text_func_at(self, insn_idx: int) -> _Func | None:
        """libbpf: find_prog_by_sec_insn on .text."""
        for f in self.funcs:
            if self.text is not None and f.sec.index == self.text.index and f.start <= insn_idx < f.end:
                return f
        return None

    # -- relocations (libbpf: bpf_program__record_reloc) ----------------------------
    def _ksym_funcs(self) -> set[str]:
        if self.btf is None:
            return set()
        sec_id = self.btf.find(".ksyms", Kind.DATASEC)
        if sec_id is None:
            return set()
        return {self.btf.name(i.type) for i in self.btf.type(sec_id).secinfos() if self.btf.kind(i.type) is Kind.FUNC}

    def _relocations(self) -> dict[tuple[int, int], _Relo]:
        ksym_funcs = self._ksym_funcs()
        out: dict[tuple[int, int], _Relo] = {}
        for sec_idx, rels in self.elf.relocs.items():
            if sec_idx not in self.code:
                continue
            sec = self.elf.sections[sec_idx]
            slots = self.code[sec_idx]
            for rel in rels:
                where = Coord(self.path, sec.name, rel.offset)
                if rel.offset % SLOT or rel.offset // SLOT >= len(slots):
                    raise InputError(where, f"relocation offset 0x{rel.offset:x} out of range")
                if not 0 < rel.sym < len(self.elf.symbols):
                    raise InputError(where, f"relocation against unknown symbol #{rel.sym}")
                insn = slots[rel.offset // SLOT]
                out[(sec_idx, rel.offset // SLOT)] = self._classify(where, insn, self.elf.symbols[rel.sym], ksym_funcs)
        return out

    def _classify(self, where: Coord, insn: Insn | None, sym: Symbol, ksym_funcs: set[str]) -> _Relo:
        name = sym.name or (self.elf.sections[sym.shndx].name if sym.shndx < len(self.elf.sections) else "?")
        is_call = insn is not None and insn.kind is IKind.CALL
        if insn is None or not (is_call or insn.kind is IKind.LD_IMM64):
            raise InputError(where, f"invalid relocation against '{name}': not a call or ld_imm64")
        if sym.shndx == SHN_UNDEF:
            if not is_call:
                raise InputError(where, f"extern variable '{name}' is not supported")
            if self.btf is not None and name not in ksym_funcs:
                raise InputError(where, f"extern '{name}' is not a __ksym function")
            # a kfunc the project does not model still loads: the verifier refuses the one
            # program calling it as unsupported, and the object's other programs go on
            return _Relo("kfunc", sym)
        if is_call:
            if insn.src != op.PSEUDO_CALL:
                raise InputError(where, "incorrect bpf_call opcode")
            if self.text is None or sym.shndx != self.text.index:
                raise InputError(where, f"bad call relocation against '{name}'")
            if sym.value % SLOT:
                raise InputError(where, f"bad call relocation offset {sym.value}")
            return _Relo("call", sym)
        if sym.shndx >= SHN_LORESERVE or sym.shndx >= len(self.elf.sections):
            raise InputError(where, f"invalid relocation for '{name}' in special section 0x{sym.shndx:x}")
        if self.text is not None and sym.shndx == self.text.index and sym.type in (STT_FUNC, STT_SECTION):
            if sym.value % SLOT or insn.imm % SLOT:
                raise InputError(where, f"bad subprog address relocation against '{name}'")
            return _Relo("func_addr", sym)
        target = self.elf.sections[sym.shndx]
        if target.name == ".maps":
            idx = self.maps.by_maps_offset.get(sym.value)
            if idx is None:
                raise InputError(where, f"map relocation failed to find map for '.maps', off {sym.value}")
            return _Relo("map", sym, idx)
        if target.name == LEGACY_MAPS and self.maps.by_legacy_offset is not None:
            idx = self.maps.by_legacy_offset.get(sym.value)
            if idx is None:
                raise InputError(where, f"map relocation failed to find map for 'maps', off {sym.value}")
            return _Relo("map", sym, idx)
        if data_kind(target) is not None and sym.shndx in self.maps.by_data_section:
            return _Relo("data", sym, self.maps.by_data_section[sym.shndx])
        raise InputError(where, f"bad relocation against '{name}' in section '{target.name}'")

    # -- CO-RE (libbpf: bpf_object__relocate_core) -----------------------------------
    def _apply_core(self) -> dict[tuple[int, int], tuple[int, str, int]]:
        kept: dict[tuple[int, int], tuple[int, str, int]] = {}
        if self.btf is None:
            return kept
        for sec_name, relos in self.ext.core_relos.items():
            sec = self.elf.by_name(sec_name)
            if sec is None or sec.index not in self.code:
                raise InputError(
                    Coord(self.path, ".BTF.ext", None), f"CO-RE relocations for missing section {sec_name}"
                )
            slots = self.code[sec.index]
            for r in relos:
                at = r.insn_off // SLOT
                insn = slots[at] if r.insn_off % SLOT == 0 and at < len(slots) else None
                if insn is None:
                    raise InputError(Coord(self.path, sec_name, r.insn_off), "CO-RE relocation on no instruction")
                try:
                    patched = core.resolve(insn, self.btf, r.type_id, r.access, r.kind)
                except (UnknownOpcode, InputError):
                    patched = None
                if patched is None:
                    kept[(sec.index, at)] = (r.type_id, r.access, r.kind)
                else:
                    slots[at] = patched
        return kept

    # -- BTF lookups ---------------------------------------------------------------------
    def func_type(self, f: _Func) -> int | None:
        for rec in self.ext.func_info.get(f.sec.name, ()):
            if rec.insn_off == f.start * SLOT:
                return rec.type_id
        if self.btf is not None:
            return self.btf.find(f.name, Kind.FUNC)
        return None

    def linkage(self, f: _Func, type_id: int | None) -> Linkage:
        if self.btf is not None and type_id is not None and self.btf.kind(type_id) is Kind.FUNC:
            return Linkage.GLOBAL if self.btf.type(type_id).linkage == FUNC_GLOBAL else Linkage.STATIC
        return Linkage.GLOBAL if f.global_sym and not f.hidden else Linkage.STATIC

    def exception_cb(self, prog: _Func) -> _Func | None:
        """libbpf: bpf_prog_assign_exc_cb."""
        type_id = self.func_type(prog)
        if self.btf is None or type_id is None:
            return None
        names = [
            v[len(EXC_CB_TAG) :] for idx, v in self.btf.decl_tags(type_id) if idx == -1 and v.startswith(EXC_CB_TAG)
        ]
        if not names:
            return None
        where = Coord(self.path, prog.sec.name, prog.start * SLOT)
        if len(names) > 1:
            raise InputError(where, f"prog '{prog.name}': multiple exception callback tags for main subprog")
        for f in self.funcs:
            if self.text is not None and f.sec.index == self.text.index and f.name == names[0]:
                if not f.global_sym or f.hidden:
                    raise InputError(
                        where, f"prog '{prog.name}': exception callback {f.name} must be a global non-hidden function"
                    )
                return f
        raise InputError(where, f"prog '{prog.name}': cannot find exception callback '{names[0]}'")

    def programs(self) -> list[_Func]:
        return [f for f in self.funcs if self.text is None or f.sec.index != self.text.index]


class _Assembler:
    """One main program and the subprogs it pulls in (libbpf: bpf_object__relocate_calls)."""

    def __init__(self, obj: _Object, main: _Func) -> None:
        self.obj = obj
        self.main = main
        self.out: list[Insn | None] = []
        self.placed: dict[tuple[int, int], int] = {}  # (section, start) -> pc
        self.order: list[_Func] = []
        self.kfuncs: list[str] = []
        self.stack: list[tuple[_Func, int, int]] = []  # (function, its pc, next instruction)

    def append(self, f: _Func) -> None:
        """libbpf: bpf_object__append_subprog_code, then bpf_object__reloc_code on it.

        libbpf recurses into a subprog as soon as it appends it; an explicit stack
        gives the same depth-first order without Python's recursion limit.
        """
        self._place(f)
        while self.stack:
            g, base, i = self.stack[-1]
            if i >= g.end - g.start:
                self.stack.pop()
                continue
            self.stack[-1] = (g, base, i + 1)
            insn = self.out[base + i]
            if insn is None:
                continue
            sec_insn = g.start + i
            where = Coord(self.obj.path, g.sec.name, sec_insn * SLOT)
            relo = self.obj.relos.get((g.sec.index, sec_insn))
            try:
                self.out[base + i] = self._relocate(g, base + i, sec_insn, insn, relo, where)
            except UnknownOpcode as exc:
                raise InputError(where, str(exc)) from None

    def _place(self, f: _Func) -> None:
        base = len(self.out)
        self.placed[(f.sec.index, f.start)] = base
        self.order.append(f)
        self.out.extend(self.obj.code[f.sec.index][f.start : f.end])
        self.stack.append((f, base, 0))

    def _target(self, sub_insn: int, where: Coord) -> int:
        sub = self.obj._text_func_at(sub_insn)
        if sub is None:
            raise InputError(where, f"call target {sub_insn} is not in a .text function")
        if (sub.sec.index, sub.start) not in self.placed:
            self._place(sub)  # processed next, before the rest of the caller
        return self.placed[(sub.sec.index, sub.start)] + (sub_insn - sub.start)

    def _relocate(self, f: _Func, pc: int, sec_insn: int, insn: Insn, relo: _Relo | None, where: Coord) -> Insn:
        is_text = self.obj.text is not None and f.sec.index == self.obj.text.index
        if relo is None:
            if insn.kind is IKind.CALL and insn.src == op.PSEUDO_CALL:
                if not is_text:
                    raise InputError(where, "no .text section found yet sub-program call exists")
                return insn.replace(imm=self._target(sec_insn + insn.imm + 1, where) - pc - 1)
            if insn.kind is IKind.LD_IMM64 and insn.src == op.PSEUDO_FUNC:
                if not is_text:
                    raise InputError(where, "function pointer without relocation outside .text")
                return insn.replace(imm=self._target(sec_insn + insn.imm + 1, where) - pc - 1)
            return insn
        if relo.kind == "kfunc":
            name = relo.symbol.name
            if name not in self.kfuncs:
                self.kfuncs.append(name)
            return insn.replace(src=op.PSEUDO_KFUNC_CALL, off=0, imm=self.kfuncs.index(name))
        if relo.kind == "call":
            target = self._target(relo.symbol.value // SLOT + insn.imm + 1, where)
            return insn.replace(imm=target - pc - 1)
        if relo.kind == "func_addr":
            target = self._target(relo.symbol.value // SLOT + insn.imm // SLOT, where)
            return insn.replace(src=op.PSEUDO_FUNC, imm=target - pc - 1, imm_hi=0)
        if relo.kind == "map":
            return insn.replace(src=op.PSEUDO_MAP_IDX, imm=relo.map_idx, imm_hi=0)
        # libbpf: bpf_object__relocate_data, RELO_DATA: insn[1].imm = insn[0].imm + sym_off
        offset = insn.imm + relo.symbol.value
        value_size = self.obj.maps.maps[relo.map_idx].value_size
        if not 0 <= offset <= value_size:
            raise InputError(where, f"data offset {offset} outside '{self.obj.maps.maps[relo.map_idx].section}'")
        return insn.replace(src=op.PSEUDO_MAP_IDX_VALUE, imm=relo.map_idx, imm_hi=offset)

    def build(self) -> Program:
        obj, main = self.obj, self.main
        sec_def = match_section(main.sec.name)
        if sec_def is None:
            raise InputError(
                Coord(obj.path, main.sec.name, main.start * SLOT), f"unknown program section '{main.sec.name}'"
            )
        self.append(main)
        exc = obj.exception_cb(main)
        if exc is not None and (exc.sec.index, exc.start) not in self.placed:
            self.append(exc)
        return Program(
            name=main.name,
            section=main.sec.name,
            prog_type=sec_def.prog_type,
            slots=tuple(self.out),
            subprogs=self._subprogs(exc),
            source=obj.path,
            sha256=obj.sha256,
            license=obj.license,
            expected_attach_type=sec_def.expected_attach_type,
            attach_to=sec_def.attach_to,
            maps=obj.maps.maps,
            kfuncs=tuple(self.kfuncs),
            btf=obj.btf_bytes,
            func_info=tuple(FuncInfo(self.placed[(f.sec.index, f.start)], t) for f, t in self._typed()),
            line_info=self._line_info(),
            core_relos=self._core_relos(),
            symbols=self._symbols(),
        )

    def _typed(self) -> list[tuple[_Func, int]]:
        out = []
        for f in self.order:
            t = self.obj.func_type(f)
            if t is not None:
                out.append((f, t))
        return out

    def _subprogs(self, exc: _Func | None) -> tuple[Subprog, ...]:
        subs = []
        for i, f in enumerate(self.order):
            pc = self.placed[(f.sec.index, f.start)]
            t = self.obj.func_type(f)
            linkage = Linkage.GLOBAL if i == 0 else self.obj.linkage(f, t)
            subs.append(Subprog(f.name, pc, pc + f.end - f.start, linkage, t, f is exc))
        return tuple(subs)

    def _remap(self, sec_name: str, insn_off: int) -> int | None:
        """Section byte offset to the assembled program's pc (libbpf: adjust_prog_btf_ext_info)."""
        for f in self.order:
            if f.sec.name == sec_name and f.start * SLOT <= insn_off < f.end * SLOT:
                return self.placed[(f.sec.index, f.start)] + insn_off // SLOT - f.start
        return None

    def _line_info(self) -> tuple[LineInfo, ...]:
        out = []
        for f in self.order:
            for rec in self.obj.ext.line_info.get(f.sec.name, ()):
                if f.start * SLOT <= rec.insn_off < f.end * SLOT:
                    pc = self.placed[(f.sec.index, f.start)] + rec.insn_off // SLOT - f.start
                    out.append(LineInfo(pc, rec.file, rec.line, rec.col, rec.text))
        return tuple(out)

    def _core_relos(self) -> tuple[CoreRelo, ...]:
        out = []
        for (sec_idx, at), (type_id, access, kind) in sorted(self.obj.core_kept.items()):
            pc = self._remap(self.obj.elf.sections[sec_idx].name, at * SLOT)
            if pc is not None:
                out.append(CoreRelo(pc, type_id, access, kind))
        return tuple(sorted(out, key=lambda r: r.pc))

    def _symbols(self) -> dict[int, str]:
        symbols = {self.placed[(f.sec.index, f.start)]: f.name for f in self.order}
        for sym in self.obj.elf.symbols:
            if sym.type == STT_NOTYPE and sym.name and sym.value % SLOT == 0:
                for f in self.order:
                    if f.sec.index == sym.shndx and f.start <= sym.value // SLOT < f.end:
                        symbols.setdefault(self.placed[(f.sec.index, f.start)] + sym.value // SLOT - f.start, sym.name)
        return symbols


def load_object(path: str) -> tuple[Program, ...]:
    """Every program in a BPF ELF object, in symbol-table order (libbpf: bpf_object__open)."""
    return strict(load_object_each(path))


def load_object_each(path: str) -> tuple[Program | LoadFailure, ...]:
    """Every program in a BPF ELF object, each loaded alone (see `load_bytes_each`)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise InputError(Coord(path), f"cannot read: {exc.strerror}") from None
    return load_bytes_each(path, data)


def load_bytes(path: str, data: bytes) -> tuple[Program, ...]:
    """Every program, or the first program's failure as an InputError."""
    return strict(load_bytes_each(path, data))


def load_bytes_each(path: str, data: bytes) -> tuple[Program | LoadFailure, ...]:
    """Every program, each loaded alone: a bad exception callback or section fails only its program,
    as loading that program alone would fail (what is wrong with the object as a whole still raises)."""
    obj = _Object(path, data)
    out: list[Program | LoadFailure] = []
    for main in obj.programs():
        try:
            out.append(_Assembler(obj, main).build())
        except InputError as exc:
            out.append(LoadFailure(main.name, main.sec.name, exc))
    return tuple(out)
