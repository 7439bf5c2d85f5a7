"""bpf-cleanup-bakeoff: the public API a strategy plugin imports."""

from framework.errors import Coord, FrameworkError, InputError, InternalError
from framework.hookspecs import hookimpl
from framework.strategy import Strategy

__all__ = ["Coord", "FrameworkError", "InputError", "InternalError", "Strategy", "hookimpl"]
