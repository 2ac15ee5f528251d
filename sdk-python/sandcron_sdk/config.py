"""Typed ``executor_config``: read the job's string map into a dataclass.

As in Dkron every config value is a string. :func:`parse` reads each value as the field's
type asks: ``str`` as it is, ``bool`` as Go's ``strconv.ParseBool`` does (``true``, ``1``,
``t``, ``false``, ``0``, ``f``, ...), ``int`` and ``float`` parsed from the text,
``Optional[T]`` as ``None`` when the key is absent, an ``Enum`` by member value or name,
``List[T]`` from a comma list (``"200,206"``), ``timedelta`` as a Go duration (``30s``,
``1h30m``) and :class:`Size` as a byte size (``512M``). A field with a default is optional;
one without is required. Keys the dataclass does not name are ignored, since Dkron configs
carry keys for other executors. A key that is not a Python name (``queue.name``) is given
with ``field(metadata={"key": "queue.name"})``.

Every error is an :class:`~sandcron_sdk.InvalidConfig` naming the key:
``command: is required``, ``repeat: "two" is not a whole number``.
"""

import dataclasses
import enum
import re
import typing
from datetime import timedelta
from typing import Any, Dict, List, Optional, Sequence, Tuple, Type, TypeVar

from .failure import InvalidConfig, invalid_config

T = TypeVar("T")


class Size(int):
    """A byte size read from ``512M``, ``1GB`` or ``1048576`` (1024-based units)."""


_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def parse(cls: Type[T], pairs: Sequence[Tuple[str, str]]) -> T:
    """Builds the dataclass ``cls`` from ``executor_config`` pairs, or raises
    :class:`~sandcron_sdk.InvalidConfig` naming the key that is missing or wrong."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    values: Dict[str, str] = dict(pairs)
    hints = typing.get_type_hints(cls)
    arguments: Dict[str, Any] = {}
    for item in dataclasses.fields(cls):
        key = item.metadata.get("key", item.name)
        if key not in values:
            no_default = (item.default is dataclasses.MISSING
                          and item.default_factory is dataclasses.MISSING)
            if no_default:
                raise invalid_config(key, "is required")
            continue
        try:
            arguments[item.name] = parse_value(hints[item.name], values[key])
        except ValueError as error:
            raise invalid_config(key, str(error)) from None
    return cls(**arguments)


def parse_value(kind: Any, text: str) -> Any:
    """Reads one value as ``kind`` (a type or a typing form); a ``ValueError`` says what the
    text is not (``"two" is not a whole number``)."""
    origin = typing.get_origin(kind)
    if origin is typing.Union:
        options = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        if len(options) == 1:
            return parse_value(options[0], text)
        return text
    if origin in (list, List):
        (item,) = typing.get_args(kind) or (str,)
        return [parse_value(item, part.strip()) for part in text.split(",") if part.strip()]
    if kind is str or kind is Any:
        return text
    if kind is bool:
        return parse_bool(text)
    if kind is Size:
        return Size(parse_size(text))
    if kind is int:
        try:
            return int(text.strip())
        except ValueError:
            raise ValueError(f"{_quote(text)} is not a whole number") from None
    if kind is float:
        try:
            return float(text.strip())
        except ValueError:
            raise ValueError(f"{_quote(text)} is not a number") from None
    if kind is timedelta:
        return parse_duration(text)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        for member in kind:
            if text in (str(member.value), member.name):
                return member
        names = ", ".join(str(member.value) for member in kind)
        raise ValueError(f"{_quote(text)} is not one of {names}")
    raise TypeError(f"config fields of type {kind!r} are not supported")


def parse_bool(text: str) -> bool:
    """Reads a boolean as Go's ``strconv.ParseBool`` does."""
    value = text.strip()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{_quote(text)} is not a boolean (true or false)")


_DURATION_UNITS = {
    "ns": 1, "us": 1_000, "\u00b5s": 1_000, "\u03bcs": 1_000,
    "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9,
}
_DURATION_PART = re.compile(r"(\d*)(?:\.(\d*))?([^\d.]*)")


def parse_duration(text: str) -> timedelta:
    """Reads a duration in Go's ``time.ParseDuration`` grammar: ``300ms``, ``1.5h``,
    ``2h45m``. Negative durations and numbers without a unit are errors."""
    def fail(reason: str) -> ValueError:
        return ValueError(f"{_quote(text)} is not a duration: {reason}")

    rest = text
    if rest.startswith("-"):
        if parse_duration(rest[1:]) == timedelta(0):
            return timedelta(0)
        raise fail("it is negative")
    rest = rest.removeprefix("+")
    if rest == "0":
        return timedelta(0)
    if not rest:
        raise fail("it is empty (write one like 30s, 5m or 1h30m)")
    nanos = 0
    while rest:
        match = _DURATION_PART.match(rest)
        whole, fraction, unit = match.group(1), match.group(2) or "", match.group(3)
        if not whole and not fraction:
            raise fail("expected a number followed by a unit, like 30s, 5m or 1h30m")
        if not unit:
            raise fail("a number needs a unit: ns, us, ms, s, m or h")
        if unit not in _DURATION_UNITS:
            raise fail(f"unknown unit {_quote(unit)} (use ns, us, ms, s, m or h)")
        scale = _DURATION_UNITS[unit]
        nanos += int(whole or 0) * scale
        if fraction:
            nanos += int(fraction) * scale // 10 ** len(fraction)
        rest = rest[match.end():]
    if nanos > 2**63 - 1:
        raise fail("it is longer than 292 years")
    return timedelta(microseconds=nanos / 1000)


_SIZE_UNITS = [
    ("KIB", 1 << 10), ("MIB", 1 << 20), ("GIB", 1 << 30), ("TIB", 1 << 40),
    ("KB", 1 << 10), ("MB", 1 << 20), ("GB", 1 << 30), ("TB", 1 << 40),
    ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("T", 1 << 40), ("B", 1),
]


def parse_size(text: str) -> int:
    """Reads a byte size: a plain number of bytes, or a number with a 1024-based unit
    (``B``, ``K``/``KB``/``KiB``, ``M``, ``G``, ``T`` in any case); rounded down."""
    upper = text.strip().upper()
    if not upper:
        raise ValueError(f"{_quote(text)} is not a size: it is empty (write one like 512M or 1G)")
    number, multiplier = upper, 1
    for suffix, scale in _SIZE_UNITS:
        if upper.endswith(suffix):
            number, multiplier = upper[: -len(suffix)].rstrip(), scale
            break
    if not re.fullmatch(r"\d*(\.\d*)?", number) or number in ("", "."):
        raise ValueError(f"{_quote(text)} is not a size: expected a number of bytes, "
                         "optionally followed by B, K, M, G or T")
    whole, _, fraction = number.partition(".")
    size = int(whole or 0) * multiplier
    if fraction:
        size += int(fraction) * multiplier // 10 ** len(fraction)
    return size


def _quote(text: str) -> str:
    """Quotes a value the way the Rust SDK shows it: in double quotes."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


__all__ = ["InvalidConfig", "Size", "parse", "parse_bool", "parse_duration", "parse_size",
           "parse_value"]
