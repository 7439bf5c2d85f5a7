"""The measure stage: DESIGN.md's figures for one (program, strategy), from runs side by side."""

from framework.measure.costs import (
    Costs,
    HappyPath,
    RunCase,
    ThrowCost,
    happy_path,
    jit_bytes,
    measure,
    stock_run,
    throw_cost,
)

__all__ = [
    "Costs",
    "HappyPath",
    "RunCase",
    "ThrowCost",
    "happy_path",
    "jit_bytes",
    "measure",
    "stock_run",
    "throw_cost",
]
