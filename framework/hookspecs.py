"""The host's extension points (pluggy hook specifications).

Per-strategy stages are methods of the objects `register_strategies` returns
(see `framework.strategy`); the hooks here are called once per plugin manager.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

PROJECT = "bakeoff"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

if TYPE_CHECKING:
    from framework.strategy import Strategy


# ---------------------------------------------------------------- registration


@hookspec
def register_strategies() -> list[Strategy]:  # type: ignore[empty-body]
    """Return the strategy objects this plugin provides.

    Each object's methods are the stages it fills in; `framework.strategy.Strategy`
    supplies the stock behaviour for the stages it leaves alone.
    """


# ---------------------------------------------------------------- provenance


@hookspec
def update_machine_info(machine_info: dict[str, Any]) -> None:
    """Add fields to the machine description every report carries.

    :param machine_info: the description so far; add keys, do not remove any.
    """
