"""The host's extension points (pluggy hook specifications), grouped by when they are called.

Per-strategy stages are methods of the objects `register_strategies` returns (see
`framework.strategy`, where each is documented argument by argument); the hooks here are
the plugin manager's, called through `pm.hook`. Each says its firstresult rule: whether
pluggy stops at the first non-None result or collects every plugin's.
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
    """The strategy objects this plugin provides (fresh instances at every call).

    Each object's methods are the stages it fills in; `framework.strategy.Strategy`
    supplies the stock behaviour for the stages it leaves alone. Not firstresult: every
    plugin's list is collected (framework.plugins.strategies), and a name given twice is an error.

    :returns: the plugin's strategies, each a `Strategy` with a unique `name`.
    """


# ---------------------------------------------------------------- provenance


@hookspec
def update_machine_info(machine_info: dict[str, Any]) -> None:
    """Add fields to the machine description every report carries (framework.provenance).

    Not firstresult: every plugin is called, in registration order, on the same dict.

    :param machine_info: the description so far; add keys, do not remove any.
    :returns: nothing; the dict is the result.
    """
