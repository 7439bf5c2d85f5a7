"""The measure stage: DESIGN.md's figures for one (program, strategy), from runs side by side."""

from framework.measure.costs import Costs, HappyPath, ThrowCost, jit_bytes, measure

__all__ = ["Costs", "HappyPath", "ThrowCost", "jit_bytes", "measure"]
