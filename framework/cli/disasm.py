"""`bakeoff disasm`: an object as llvm-objdump -d prints it, or its programs as loaded."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from framework.cli.inputs import load_each, need_compiler, read_object, select
from framework.cli.outcomes import EXIT_OK
from framework.errors import InputError
from framework.load.program import strict

if TYPE_CHECKING:
    pass

ALU32_CPUS = ("v3", "v4")  # the cpus with LLVM's ALU32 feature (w-registers in 32-bit loads and stores)


def cmd_disasm(args: argparse.Namespace) -> int:
    """An ELF object as llvm-objdump-19 -d prints it; with --program, --strategy, --x86 or --loaded
    (and for an assembly file) its programs as the loader assembles them."""
    as_loaded = args.loaded or args.program is not None or args.strategy is not None or args.x86
    data = read_object(args.path)
    if not as_loaded and data[:4] == b"\x7fELF":
        return _disasm_object(args.path, data, alu32=args.mcpu in ALU32_CPUS, relocs=args.reloc)
    if args.reloc:
        raise InputError(args.path, "--reloc lists an object's relocations; loaded programs have them resolved")
    return _disasm_programs(args)


def _disasm_object(path: str, data: bytes, *, alu32: bool, relocs: bool) -> int:
    from framework.object_listing import object_listing

    shown = object_listing(path, data, alu32=alu32, relocs=relocs)
    print(shown.text, end="")
    for note in shown.notes:
        print(f"bakeoff: note: {note}", file=sys.stderr)
    return EXIT_OK


def _disasm_programs(args: argparse.Namespace) -> int:
    from framework.listing import listing, x86_listing
    from framework.pipeline import prepare
    from framework.plugins import get_strategy

    if args.x86:
        need_compiler()
    strategy = get_strategy(args.strategy or "stock")
    programs = strict(select(load_each(args.path), args.program, args.path))  # the one named may load alone
    alu32 = args.mcpu in ALU32_CPUS
    for i, program in enumerate(programs):
        if i:
            print()
        prepared = prepare(program, strategy).program
        print(x86_listing(prepared, alu32=alu32) if args.x86 else listing(prepared, alu32=alu32), end="")
    return EXIT_OK
