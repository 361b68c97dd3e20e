"""The one base of the records that cross a boundary (a stage, a process, a file).

A ``Record`` is a frozen dataclass whose fields are JSON values, other records, tuples of
them (written as lists), ``X | None``, or ``Literal`` types. ``to_dict`` gives plain JSON;
``from_dict`` reads it back by the field types: nested records are rebuilt, lists become
tuples where the field is a tuple, and a ``Literal`` field refuses a value outside its
set. Keys a record does not know are ignored and missing ones take their defaults: records
travel between versions of citrace (a Ray node, a run resumed after an upgrade).
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

R = TypeVar("R", bound="Record")


class Record:
    """``to_dict``/``from_dict`` for a frozen dataclass (see the module docstring)."""

    def to_dict(self) -> dict[str, Any]:
        return {field.name: _plain(getattr(self, field.name))
                for field in dataclasses.fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls: type[R], data: Mapping[str, Any]) -> R:
        hints = _field_types(typing.cast(type, cls))
        values = {name: _typed(hints[name], value, f"{cls.__name__}.{name}")
                  for name, value in data.items() if name in hints}
        return cls(**values)


@functools.cache
def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {field.name: hints[field.name] for field in dataclasses.fields(cls)}


def _plain(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _first_fitting(hints: list[Any], value: Any, where: str) -> Any:
    """``value`` as the first of a union's types takes it (a Literal refuses what is not
    among its values; the others take anything)."""
    for hint in hints[:-1]:
        try:
            return _typed(hint, value, where)
        except ValueError:
            continue
    return _typed(hints[-1], value, where)


def _typed(hint: Any, value: Any, where: str) -> Any:
    """``value`` (from JSON) as a field of type ``hint`` holds it."""
    origin, args = get_origin(hint), get_args(hint)
    if isinstance(hint, type) and issubclass(hint, Record):
        return hint.from_dict(value) if isinstance(value, Mapping) else value
    if origin is Literal:
        if value not in args:
            raise ValueError(f"{where}: {value!r} is not one of {args}")
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        return _first_fitting([a for a in args if a is not type(None)], value, where)
    if origin is tuple and isinstance(value, (list, tuple)):
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_typed(args[0], item, where) for item in value)
        return tuple(_typed(a, item, where) for a, item in zip(args, value, strict=False))
    if origin is list and isinstance(value, (list, tuple)):
        return [_typed(args[0], item, where) for item in value] if args else list(value)
    if origin is dict and isinstance(value, Mapping):
        return {key: _typed(args[1], item, where) for key, item in value.items()} \
            if args else dict(value)
    return value
