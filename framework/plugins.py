"""The plugin manager: built-in strategies come in through the same door as outside ones.

`get_plugin_manager()` builds a fresh manager on every call (no module global).
Every strategy, built-in or not, is a module named under the `bakeoff.strategies`
entry-point group: this distribution lists its own there, exactly as an outside
package would. Entry points of other distributions are skipped when
BAKEOFF_DISABLE_PLUGIN_AUTOLOAD is set (tests set it, so a stray installed plugin
cannot change their results); BAKEOFF_BLOCK_PLUGINS=name,name blocks plugins by
entry-point name. A checkout that is not installed falls back to DEFAULT_PLUGINS.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import metadata
from typing import cast

import pluggy

from framework import hookspecs
from framework.errors import InputError
from framework.strategy import Strategy

ENTRY_POINT_GROUP = "bakeoff.strategies"
DISTRIBUTION = "bpf-cleanup-bakeoff"

# The built-in strategy modules, by entry-point name (pyproject.toml lists the same).
DEFAULT_PLUGINS: dict[str, str] = {"stock": "strategies.stock"}


def _entry_points() -> list[tuple[str, str, str]]:
    """(name, module, distribution) for every entry point of the group."""
    found = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist is not None else "?"
        found.append((ep.name, ep.value, dist))
    if not any(dist == DISTRIBUTION for _, _, dist in found):
        found += [(name, module, DISTRIBUTION) for name, module in DEFAULT_PLUGINS.items()]
    return found


def get_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in os.environ.get("BAKEOFF_BLOCK_PLUGINS", "").split(","):
        if name.strip():
            pm.set_blocked(name.strip())
    autoload = not os.environ.get("BAKEOFF_DISABLE_PLUGIN_AUTOLOAD")
    for name, module_name, dist in _entry_points():
        if pm.is_blocked(name) or pm.has_plugin(name) or (dist != DISTRIBUTION and not autoload):
            continue
        module = metadata.EntryPoint(name, module_name, ENTRY_POINT_GROUP).load()
        pm.register(module, name)
    pm.check_pending()
    return pm


@dataclass(frozen=True, slots=True)
class RegisteredStrategy:
    strategy: Strategy
    origin: str  # "built-in" or the distribution that registered it


def strategies(pm: pluggy.PluginManager | None = None) -> dict[str, RegisteredStrategy]:
    """Every registered strategy by name; a name registered twice is an error."""
    pm = pm or get_plugin_manager()
    dists = {name: dist for name, _, dist in _entry_points()}
    found: dict[str, RegisteredStrategy] = {}
    for impl in pm.hook.register_strategies.get_hookimpls():
        dist = dists.get(impl.plugin_name, impl.plugin_name)
        origin = "built-in" if dist == DISTRIBUTION else dist
        provided = cast("list[Strategy]", impl.function() or [])
        for strategy in provided:
            if strategy.name in found:
                raise InputError(
                    impl.plugin_name, f"strategy '{strategy.name}' is registered twice ({found[strategy.name].origin})"
                )
            found[strategy.name] = RegisteredStrategy(strategy, origin)
    return dict(sorted(found.items(), key=lambda kv: (kv[1].origin != "built-in", kv[0])))


def get_strategy(name: str, pm: pluggy.PluginManager | None = None) -> Strategy:
    known = strategies(pm)
    if name not in known:
        raise InputError("--strategy", f"unknown strategy '{name}' (known: {', '.join(sorted(known))})")
    return known[name].strategy
