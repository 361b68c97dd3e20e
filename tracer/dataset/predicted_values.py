"""Is a predicted value the expected one? Decided from the two texts, without running them.

An output-prediction row's ``expected`` is the source citrace recorded for a function's
result (``tracer/probe.py`` writes it): a Python literal, or one of the forms the probe
writes for values a literal cannot hold. ``read_value`` turns such a text into the value it
stands for, reading the syntax tree and nothing else: no name is looked up, no code of the
text runs. It accepts

* literals: numbers (a sign, ``1+2j``), strings, bytes, ``True``/``False``/``None``, and
  lists, tuples, dicts and sets of them;
* the probe's markers: ``float('nan')``, ``float('inf')``, ``-float('inf')``, ``set()``,
  ``frozenset({...})``, ``complex(re, im)``, ``bytearray(b'...')``, ``range(a, b, c)``,
  ``slice(a, b, c)``;
* the standard library's value types the probe writes as constructor calls, with literal
  arguments: ``datetime.date(2020, 1, 2)``, ``datetime.timedelta(days=1, ...)``,
  ``decimal.Decimal('1.5')``, ``fractions.Fraction(1, 3)``, ``uuid.UUID('...')``, the
  ``pathlib`` paths, ``collections.OrderedDict/defaultdict/Counter/deque``. Only these
  constructors are called (``STDLIB_CONSTRUCTORS``), on values already read;
* names and dotted names, which the probe writes for references (a class, a function,
  ``datetime.timezone.utc``) and which stand for a project's enum members (``Unit.DAYS``):
  read as a ``Reference`` to that name, never looked up.

``same_value`` then compares two values by structure:

* types must match exactly: ``1``, ``1.0`` and ``True`` are three different answers (the
  task is to predict what the function returns, and its type is part of that), so are a
  list and a tuple, a set and a frozenset, a dict and an ``OrderedDict``;
* floats (and the parts of a complex) are equal within the tolerance the problems' own
  tests use (``tracer.emit.check_helpers``: relative 1e-9, absolute 1e-12); NaN equals NaN;
* lists, tuples and deques item by item; dicts by key (an ``OrderedDict`` also by order,
  a ``defaultdict`` also by its factory); sets by matching each element of one with one
  element of the other;
* references by their dotted name;
* the standard library's values (dates, decimals, ...) as their own ``==`` says, once
  their types match (``decimal.Decimal('1.0')`` equals ``decimal.Decimal('1.00')``).
"""

from __future__ import annotations

import ast
import collections
import datetime
import decimal
import fractions
import math
import pathlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from recipes.errors import CitraceError
from tracer.emit.check_helpers import ABS_TOL, REL_TOL

MAX_TEXT = 100_000  # characters: a longer prediction is refused, not parsed


class UnreadableValue(CitraceError):
    """A text is not a value ``read_value`` can read."""


@dataclass(frozen=True)
class Reference:
    """A name in a value's text (``Unit.DAYS``, ``int``): equal to the same name only."""

    name: str


STDLIB_CONSTRUCTORS: dict[str, Callable[..., Any]] = {
    "datetime.date": datetime.date, "datetime.datetime": datetime.datetime,
    "datetime.time": datetime.time, "datetime.timedelta": datetime.timedelta,
    "datetime.timezone": datetime.timezone, "decimal.Decimal": decimal.Decimal,
    "fractions.Fraction": fractions.Fraction, "uuid.UUID": uuid.UUID,
    "pathlib.PurePosixPath": pathlib.PurePosixPath, "pathlib.PosixPath": pathlib.PosixPath,
    "pathlib.PureWindowsPath": pathlib.PureWindowsPath,
    "collections.OrderedDict": collections.OrderedDict,
    "collections.defaultdict": collections.defaultdict,
    "collections.Counter": collections.Counter, "collections.deque": collections.deque,
}
# The probe's markers, called as builtins; each argument already a value read.
_MARKERS: dict[str, Callable[..., Any]] = {
    "set": set, "frozenset": frozenset, "complex": complex, "range": range, "slice": slice}
# A defaultdict's factory, the one place a bare name is a value.
_FACTORIES: dict[str, Any] = {"list": list, "dict": dict, "set": set, "int": int, "str": str,
                              "float": float, "tuple": tuple, "None": None}
_FLOAT_WORDS = {"nan", "inf", "-inf", "infinity", "-infinity"}


def read_value(text: str) -> Any:
    """The value ``text`` stands for; ``UnreadableValue`` when it is no such text."""
    if len(text) > MAX_TEXT:
        raise UnreadableValue(f"longer than {MAX_TEXT} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        # ValueError: null bytes, an int too long; the others: a nesting the parser refuses
        raise UnreadableValue(f"not a Python expression: {type(exc).__name__}: {exc}") from None
    try:
        return _value(tree.body)
    except (TypeError, ValueError, ArithmeticError, RecursionError) as exc:
        # {[1]}, datetime.date(2020, 13, 1), a nesting too deep to walk...
        raise UnreadableValue(f"not a value: {type(exc).__name__}: {exc}") from None


def _value(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant) and node.value is not Ellipsis:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        operand = _value(node.operand)
        if not _is_number(operand):
            raise UnreadableValue("a sign before something other than a number")
        return -operand if isinstance(node.op, ast.USub) else +operand
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
        return _complex_literal(node)
    if isinstance(node, ast.List):
        return [_value(item) for item in node.elts]
    if isinstance(node, ast.Tuple):
        return tuple(_value(item) for item in node.elts)
    if isinstance(node, ast.Set):
        return {_value(item) for item in node.elts}
    if isinstance(node, ast.Dict):
        if any(key is None for key in node.keys):
            raise UnreadableValue("a dict with ** in it")
        return {_value(k): _value(v) for k, v in zip(node.keys, node.values, strict=True)
                if k is not None}
    if isinstance(node, ast.Call):
        return _call(node)
    if isinstance(node, ast.Name | ast.Attribute) and _dotted(node):
        return Reference(_dotted(node))
    raise UnreadableValue(f"{type(node).__name__} is not a value")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | complex) and not isinstance(value, bool)


def _complex_literal(node: ast.BinOp) -> complex:
    """``1+2j``, ``-1.5-0j``: a real number and an imaginary literal."""
    left, right = _value(node.left), _value(node.right)
    if not (_is_number(left) and not isinstance(left, complex)
            and isinstance(right, complex) and right.real == 0):
        raise UnreadableValue("+ or - other than a complex number's")
    return left + right if isinstance(node.op, ast.Add) else left - right


def _call(node: ast.Call) -> Any:
    name = _dotted(node.func)
    if name == "float":
        return _float_marker(node)
    if name == "bytearray":
        argument = [_value(a) for a in node.args]
        if node.keywords or len(argument) != 1 or not isinstance(argument[0], bytes):
            raise UnreadableValue("bytearray takes one bytes literal here")
        return bytearray(argument[0])
    function = _MARKERS.get(name) or STDLIB_CONSTRUCTORS.get(name)
    if function is None:
        raise UnreadableValue(f"a call of {name or 'an expression'}")
    args = [_argument(a, name) for a in node.args]
    if args and _is_number(args[0]) and name in (
            "set", "frozenset", "collections.deque", "collections.Counter"):
        raise UnreadableValue(f"{name} of a number")  # not what the probe writes
    if any(keyword.arg is None for keyword in node.keywords):
        raise UnreadableValue("a call with ** in it")
    kwargs = {str(keyword.arg): _value(keyword.value) for keyword in node.keywords}
    return function(*args, **kwargs)


def _argument(node: ast.expr, callee: str) -> Any:
    if callee == "collections.defaultdict" and isinstance(node, ast.Name) and (
            node.id in _FACTORIES):
        return _FACTORIES[node.id]
    return _value(node)


def _float_marker(node: ast.Call) -> float:
    """``float('nan')``, ``float('inf')``, ``float('-inf')``: what no float literal says."""
    if node.keywords or len(node.args) != 1:
        raise UnreadableValue("float() takes one string here")
    text = _value(node.args[0])
    if not isinstance(text, str) or text.strip().lower() not in _FLOAT_WORDS:
        raise UnreadableValue("float() of something other than nan or inf")
    return float(text)


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else ""
    return ""


def same_value(got: Any, want: Any) -> bool:
    """``got`` and ``want`` are the same value: same types, floats within the tests'
    tolerance (NaN equal to NaN), containers item by item (module docstring)."""
    if type(got) is not type(want):
        return False
    if isinstance(want, float):
        return _close(got, want)
    if isinstance(want, complex):
        return _close(got.real, want.real) and _close(got.imag, want.imag)
    if isinstance(want, list | tuple):
        return len(got) == len(want) and all(map(same_value, got, want))
    if isinstance(want, collections.deque):
        return got.maxlen == want.maxlen and same_value(list(got), list(want))
    if isinstance(want, dict):
        return _same_dict(got, want)
    if isinstance(want, set | frozenset):
        return _same_members(list(got), list(want))
    return bool(got == want)


def _close(got: float, want: float) -> bool:
    if math.isnan(want) or math.isnan(got):
        return math.isnan(want) and math.isnan(got)
    return math.isclose(got, want, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def _same_dict(got: dict[Any, Any], want: dict[Any, Any]) -> bool:
    if isinstance(want, collections.defaultdict) and isinstance(got, collections.defaultdict) \
            and got.default_factory is not want.default_factory:
        return False
    if isinstance(want, collections.OrderedDict):  # its order is part of its value
        return same_value(list(got.items()), list(want.items()))
    return _same_members(list(got.items()), list(want.items()))


def _same_members(got: list[Any], want: list[Any]) -> bool:
    """Each item of ``want`` matched with its own item of ``got`` (sets, a dict's items)."""
    if len(got) != len(want):
        return False
    left = list(got)
    for item in want:
        match = next((n for n, candidate in enumerate(left) if same_value(candidate, item)),
                     None)
        if match is None:
            return False
        del left[match]
    return True
