"""The public plugin API: everything a strategy imports, and nothing else of the framework.

A strategy (built-in or outside) imports from here and from `framework` itself (`hookimpl`,
`Strategy`, the errors); the import contract in pyproject.toml holds it to that. Grouped by
the stage that hands the object over or takes it back:

- registration: `hookimpl`, `Strategy` (the protocol: one method per stage it fills in),
  `RecordsResources` (the verifier side of a strategy that records resources at run time);
- the program, as loaded: `Program`, `FuncInfo`, `CleanupRange`, and its `Survey` (what a
  compiler knows of it, for a strategy that sets `surveys`);
- what the strategy's hooks take and return: `Prepared` (prepare's program and first state),
  the verifier's events `Acquired` and `Released`, the `Ledger` folding them, `Refused`;
- the verifier's findings: `Analysis`, `ThrowSite`, `FrameHoldings`, `Holding`, `Reference`,
  `Nullness`, `interior_pointer`;
- the plan the strategy returns: `Plan`, `own_stack`;
- instructions it inserts or emits: `Insn`, `make`, `op` (the opcode table), the builders
  `mov_imm`, `mov_reg`, `add_imm`, `load_dw`, `store_dw`, `call_kfunc`, and `Insertion`,
  `insertions`, `patch`; helper numbers by name, `helper_id`;
- the runtime's table: `Fixed` (the fixup stage's program and pc map), `NativeImage` (the
  JITed code: `return_offset`, `base`), the resource kinds the runtime releases (`KINDS`,
  `RELEASABLE`, `kind_id`, `release_kind`) and `STOCK_RUNTIME`.
"""

from __future__ import annotations

from framework.errors import Coord, InputError
from framework.fixup import Fixed
from framework.hookspecs import hookimpl
from framework.isa import opcodes as op
from framework.isa.insn import Insn, add_imm, call_kfunc, load_dw, make, mov_imm, mov_reg, store_dw
from framework.isa.patch import Insertion, insertions, patch
from framework.jit import NativeImage
from framework.kernel.kinds import KINDS, kind_id, release_kind
from framework.load.program import CleanupRange, FuncInfo, Program
from framework.plan import Plan, own_stack
from framework.platform.helpers import helper_id
from framework.strategy import (
    RELEASABLE,
    STOCK_RUNTIME,
    Acquired,
    Ledger,
    Prepared,
    RecordsResources,
    Refused,
    Released,
    Strategy,
    interior_pointer,
)
from framework.verify.result import Analysis, FrameHoldings, Holding, Nullness, Reference, ThrowSite, location_name
from framework.verify.survey import Survey

__all__ = [
    "KINDS",
    "RELEASABLE",
    "STOCK_RUNTIME",
    "Acquired",
    "Analysis",
    "CleanupRange",
    "Coord",
    "Fixed",
    "FrameHoldings",
    "FuncInfo",
    "Holding",
    "InputError",
    "Insertion",
    "Insn",
    "Ledger",
    "NativeImage",
    "Nullness",
    "Plan",
    "Prepared",
    "Program",
    "RecordsResources",
    "Reference",
    "Refused",
    "Released",
    "Strategy",
    "Survey",
    "ThrowSite",
    "add_imm",
    "call_kfunc",
    "helper_id",
    "hookimpl",
    "insertions",
    "interior_pointer",
    "kind_id",
    "load_dw",
    "location_name",
    "make",
    "mov_imm",
    "mov_reg",
    "op",
    "own_stack",
    "patch",
    "release_kind",
    "store_dw",
]
