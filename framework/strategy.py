"""The strategy protocol: what a cleanup strategy is, as the core sees it.

A strategy is an object with a `name`, a `version` and a `summary`; its methods
are the pipeline stages it fills in. `Strategy` is the base class: it is Linux
today (`stock`), and every method returns what the core does without a strategy.
Later stages (verifier hooks, rewrite, JIT, runtime) add methods here as they land.
"""

from __future__ import annotations

from framework.load.program import Program


class Strategy:
    """Base class and stock behaviour: change nothing, release nothing."""

    name: str = "stock"
    version: str = "0"
    summary: str = "Linux today: refuse any throw while something is held."

    def prepare(self, program: Program) -> Program:
        """Return the program with what a compiler would have emitted (stock: unchanged)."""
        return program
