"""The measure stage: DESIGN.md's figures for one (program, strategy), from runs side by side."""

from framework.measure.costs import (
    Costs,
    HappyPath,
    RunCase,
    ThrowCost,
    costs,
    happy_path,
    jit_bytes,
    stock_run,
    throw_cost,
)

__all__ = [
    "Costs",
    "HappyPath",
    "RunCase",
    "ThrowCost",
    "costs",
    "happy_path",
    "jit_bytes",
    "stock_run",
    "throw_cost",
]
