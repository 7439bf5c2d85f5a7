"""The project's two exception families, and where bad input was found.

A rejected program is not an exception: it is a result with a message and a
`Coord`. Exceptions are for bad input (`InputError`, one line, exit status 2)
and for the project's own bugs (`InternalError`, which keeps its traceback).
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_MESSAGE = 300  # no error line the project prints is longer (an input quoted whole is clipped)


def clip(text: str, limit: int = MAX_MESSAGE) -> str:
    """`text` on one line and at most `limit` characters, its cut marked with `...`."""
    text = " ".join(text.split()) if "\n" in text or "\r" in text else text
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True, slots=True)
class Coord:
    """A place in an input: `file:section:offset` for objects, `file:line` for text."""

    file: str
    section: str | None = None
    offset: int | None = None
    line: int | None = None

    def __str__(self) -> str:
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
        else:
            if self.section is not None:
                parts.append(self.section)
            if self.offset is not None:
                parts.append(f"0x{self.offset:x}" if self.section is not None else str(self.offset))
        return ":".join(parts)


INPUT_PREFIX = "bakeoff: error: "  # what framework/cli prints before an InputError


class FrameworkError(Exception):
    """Base of the project's exceptions."""


class InputError(FrameworkError):
    """Input the project cannot use: bad ELF, bad assembly, unknown opcode or kfunc."""

    def __init__(self, coord: Coord | str, message: str) -> None:
        # the CLI's `bakeoff: error: ` prefix included, the line stays within MAX_MESSAGE
        text = clip(f"{coord}: {message}", MAX_MESSAGE - len(INPUT_PREFIX))
        super().__init__(text)
        self.coord = coord
        self.message = clip(message)

    def __reduce__(self) -> tuple[object, ...]:
        # whatever a subclass's __init__ takes, it crosses a process pool (`run --jobs`) as it was
        return (_rebuilt, (type(self), self.args, self.__dict__))


def _rebuilt(cls: type[InputError], args: tuple[object, ...], state: dict[str, object]) -> InputError:
    exc = cls.__new__(cls)
    exc.args = args
    exc.__dict__.update(state)
    return exc


class InternalError(FrameworkError):
    """A bug in the project; shown with its traceback."""
