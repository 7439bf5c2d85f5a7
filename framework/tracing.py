"""BAKEOFF_TRACE: every call the core makes into a strategy, with its arguments and result.

`traced(strategy)` returns the same strategy as an instance of a subclass whose stage
methods (the `Strategy` protocol's) write one line each to stderr after they return:
`bakeoff trace: <strategy>.<stage>(<arguments>) -> <result>`. The subclass keeps the
strategy's module, so `type(s)()` (a new instance of it) is traced
too and an exception is still blamed on the strategy's own file.
"""

from __future__ import annotations

import functools
import reprlib
import sys
from collections.abc import Callable
from typing import Any, TypeVar, cast

from framework.strategy import Strategy

# the stage methods of the protocol (framework.strategy.Strategy): what the core calls
STAGES = tuple(n for n, v in vars(Strategy).items() if callable(v) and not n.startswith("_"))

_repr = reprlib.Repr()
_repr.maxother = 60
_repr.maxstring = 60

S = TypeVar("S", bound=Strategy)


def short(value: object) -> str:
    """A value as one short token: an artifact by its name or verdict, bytes by their length."""
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    name = getattr(value, "name", None)
    if isinstance(name, str) and not isinstance(value, str):
        return f"{type(value).__name__}({name!r})"
    verdict = getattr(value, "verdict", None)
    if verdict is not None and not isinstance(value, str):
        return f"{type(value).__name__}(verdict={getattr(verdict, 'value', verdict)!r})"
    return _repr.repr(value)


def _wrap(stage: str, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(self: Strategy, *args: Any, **kwargs: Any) -> Any:
        result = method(self, *args, **kwargs)
        shown = [short(a) for a in args] + [f"{k}={short(v)}" for k, v in kwargs.items()]
        sys.stderr.write(f"bakeoff trace: {self.name}.{stage}({', '.join(shown)}) -> {short(result)}\n")
        return result

    return call


@functools.cache
def _traced_class(cls: type) -> type:
    namespace: dict[str, Any] = {"__module__": cls.__module__, "__qualname__": cls.__qualname__, "__doc__": cls.__doc__}
    namespace |= {stage: _wrap(stage, getattr(cls, stage)) for stage in STAGES}
    namespace["__traced__"] = True
    return type(cls.__name__, (cls,), namespace)


def traced(strategy: S) -> S:
    """`strategy`, its stage calls written to stderr."""
    cls: type = type(strategy)
    if getattr(cls, "__traced__", False):
        return strategy
    copy = cast("S", object.__new__(_traced_class(cls)))
    copy.__dict__.update(vars(strategy))
    return copy
