"""The plugin manager: built-in strategies come in through the same door as outside ones.

Every strategy, built-in or not, is a module named under the `bakeoff.strategies`
entry-point group: this distribution lists its own there, exactly as an outside
package would. Entry points of other distributions are skipped when
BAKEOFF_DISABLE_PLUGIN_AUTOLOAD is set (tests that pin figures set it, so a stray
installed plugin cannot change them); BAKEOFF_BLOCK_PLUGINS=name,name blocks plugins
by entry-point name. A checkout that is not installed falls back to DEFAULT_PLUGINS.

`get_plugin_manager()` builds a manager once per setting (the variables above and
sys.path, where the entry points are found) and hands the same one back after. Every call goes
through `pm.hook`. BAKEOFF_TRACE=1 writes every hook call to stderr, with its
arguments and results: pluggy's own tracing for the manager's hooks, and
`framework.tracing` for each strategy's stage methods.
"""

from __future__ import annotations

import functools
import os
import sys
from dataclasses import dataclass
from importlib import metadata

import pluggy

from framework import hookspecs
from framework.errors import InputError
from framework.strategy import Strategy
from framework.tracing import traced

ENTRY_POINT_GROUP = "bakeoff.strategies"
DISTRIBUTION = "bpf-cleanup-bakeoff"

# The built-in strategy modules, by entry-point name (pyproject.toml lists the same).
DEFAULT_PLUGINS: dict[str, str] = {"stock": "strategies.stock"}

EntryPoints = tuple[tuple[str, str, str], ...]  # (name, module, distribution)


def _entry_points() -> EntryPoints:
    found = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist is not None else "?"
        found.append((ep.name, ep.value, dist))
    if not any(dist == DISTRIBUTION for _, _, dist in found):
        found += [(name, module, DISTRIBUTION) for name, module in DEFAULT_PLUGINS.items()]
    return tuple(found)


def tracing() -> bool:
    """Whether BAKEOFF_TRACE asks for every hook call on stderr."""
    return os.environ.get("BAKEOFF_TRACE", "") not in ("", "0")


def get_plugin_manager() -> pluggy.PluginManager:
    """The manager for the current settings, built the first time they are asked for."""
    return _current()[0]


def _current() -> tuple[pluggy.PluginManager, dict[str, str]]:
    """The manager and each plugin's distribution, for the variables above and sys.path (where the
    entry points are found: an install or a new path entry gives a new manager)."""
    blocked = tuple(sorted(n.strip() for n in os.environ.get("BAKEOFF_BLOCK_PLUGINS", "").split(",") if n.strip()))
    autoload = not os.environ.get("BAKEOFF_DISABLE_PLUGIN_AUTOLOAD")
    return _manager(blocked, autoload, tuple(sys.path), tracing())


@functools.cache
def _manager(
    blocked: tuple[str, ...], autoload: bool, path: tuple[str, ...], trace: bool
) -> tuple[pluggy.PluginManager, dict[str, str]]:
    found = _entry_points()  # read once per setting: scanning the installed distributions costs milliseconds
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in blocked:
        pm.set_blocked(name)
    for name, module_name, dist in found:
        if pm.is_blocked(name) or pm.has_plugin(name) or (dist != DISTRIBUTION and not autoload):
            continue
        module = metadata.EntryPoint(name, module_name, ENTRY_POINT_GROUP).load()
        pm.register(module, name)
    pm.check_pending()
    if trace:  # pluggy's tracer: each hook call, its keyword arguments and its results
        pm.trace.root.setwriter(lambda text: sys.stderr.write(f"bakeoff trace: {text.lstrip()}"))
        pm.enable_tracing()
    return pm, {name: dist for name, _, dist in found}


@dataclass(frozen=True, slots=True)
class RegisteredStrategy:
    strategy: Strategy
    origin: str  # "built-in" or the distribution that registered it


def strategies(pm: pluggy.PluginManager | None = None) -> dict[str, RegisteredStrategy]:
    """Every registered strategy by name, fresh instances each call; a name registered twice is an error."""
    if pm is None:
        pm, dists = _current()
    else:
        dists = {name: dist for name, _, dist in _entry_points()}
    found: dict[str, RegisteredStrategy] = {}
    for plugin_name, plugin in pm.list_name_plugin():
        if plugin is None:  # blocked
            continue
        others = [p for p in pm.get_plugins() if p is not plugin]
        # one plugin's registrations, through the hook (its origin is that plugin's distribution)
        own = pm.subset_hook_caller("register_strategies", remove_plugins=others)
        dist = dists.get(plugin_name, plugin_name)
        origin = "built-in" if dist == DISTRIBUTION else dist
        for provided in own():
            for strategy in provided or []:
                if strategy.name in found:
                    raise InputError(
                        plugin_name, f"strategy '{strategy.name}' is registered twice ({found[strategy.name].origin})"
                    )
                found[strategy.name] = RegisteredStrategy(traced(strategy) if tracing() else strategy, origin)
    return dict(sorted(found.items(), key=lambda kv: (kv[1].origin != "built-in", kv[0])))


def get_strategy(name: str, pm: pluggy.PluginManager | None = None) -> Strategy:
    """The strategy named, a new instance (a strategy keeps no state: any instance serves)."""
    known = strategies(pm)
    if name not in known:
        raise InputError("--strategy", f"unknown strategy '{name}' (known: {', '.join(sorted(known))})")
    return known[name].strategy


def chosen(only: list[str] | None, disabled: list[str] | None) -> list[str]:
    """The strategies a bake-off runs: those `--strategy` names (default: every registered one,
    Linux today first), less those `--disable-strategy` names; an unknown name is bad input."""
    known = strategies()
    for flag, names in (("--strategy", only), ("--disable-strategy", disabled)):
        for name in names or []:
            if name not in known:
                raise InputError(flag, f"unknown strategy '{name}' (known: {', '.join(sorted(known))})")
    names = only or sorted(known, key=lambda n: n != "stock")
    return [n for n in names if n not in (disabled or [])]
