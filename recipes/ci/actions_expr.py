"""GitHub Actions expressions (``${{ matrix.python-version }}``, ``if: runner.os == 'Linux'``),
evaluated as far as a planner can know them.

Contexts the plan knows (``matrix``, ``env``, ``runner``) have values; the rest (``secrets``,
``steps``, ``github.event_name`` ...) are UNKNOWN, and UNKNOWN spreads through operators, so
an ``if:`` is only ever decided false when it is false whatever the run would bring.
Comparisons follow GitHub: strings equal ignoring case, mixed types compared as numbers.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()

_TOKEN = re.compile(r"\s*('(?:[^']|'')*'|\d+(?:\.\d+)?|==|!=|<=|>=|&&|\|\||[!<>()\[\],.*]"
                    r"|[A-Za-z_][\w-]*)")
_EMBEDDED = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
_KNOWN_CONTEXTS = ("matrix", "env", "runner")


class ExpressionError(ValueError):
    pass


def substitute(text: str, contexts: Mapping[str, Any]) -> str:
    """``text`` with each ``${{ expr }}`` replaced by its value ("" when unknown)."""
    return _EMBEDDED.sub(lambda m: _as_text(_evaluate_or_unknown(m.group(1), contexts)), text)


def condition(expr: str, contexts: Mapping[str, Any]) -> bool | None:
    """An ``if:`` as True/False, or None when it depends on what the plan cannot know."""
    text = expr.strip()
    embedded = _EMBEDDED.fullmatch(text)
    value = _evaluate_or_unknown(embedded.group(1) if embedded else text, contexts)
    return None if value is UNKNOWN else _truthy(value)


def _evaluate_or_unknown(expr: str, contexts: Mapping[str, Any]) -> Any:
    try:
        return evaluate(expr, contexts)
    except (ExpressionError, RecursionError):
        return UNKNOWN


def evaluate(expr: str, contexts: Mapping[str, Any]) -> Any:
    tokens = _tokens(expr)
    parser = _Parser(tokens, contexts)
    value = parser.disjunction()
    if parser.position != len(tokens):
        raise ExpressionError(f"unexpected {tokens[parser.position]!r}")
    return value


def _tokens(expr: str) -> list[str]:
    tokens, position = [], 0
    expr = expr.strip()
    while position < len(expr):
        match = _TOKEN.match(expr, position)
        if match is None:
            raise ExpressionError(f"cannot read {expr[position:]!r}")
        tokens.append(match.group(1))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[str], contexts: Mapping[str, Any]) -> None:
        self.tokens, self.contexts, self.position = tokens, contexts, 0

    def peek(self) -> str:
        return self.tokens[self.position] if self.position < len(self.tokens) else ""

    def take(self, expected: str = "") -> str:
        token = self.peek()
        if not token or (expected and token != expected):
            raise ExpressionError(f"expected {expected or 'more'}, found {token!r}")
        self.position += 1
        return token

    def disjunction(self) -> Any:
        values = [self.conjunction()]
        while self.peek() == "||":
            self.take()
            values.append(self.conjunction())
        # Truthy whatever an unknown operand turns out to be, when a known one is truthy.
        truthy = [v for v in values if v is not UNKNOWN and _truthy(v)]
        if truthy:
            return truthy[0]
        return UNKNOWN if any(v is UNKNOWN for v in values) else values[-1]

    def conjunction(self) -> Any:
        values = [self.comparison()]
        while self.peek() == "&&":
            self.take()
            values.append(self.comparison())
        if any(v is not UNKNOWN and not _truthy(v) for v in values):
            return next(v for v in values if v is not UNKNOWN and not _truthy(v))
        return UNKNOWN if any(v is UNKNOWN for v in values) else values[-1]

    def comparison(self) -> Any:
        left = self.unary()
        if self.peek() in ("==", "!=", "<", "<=", ">", ">="):
            operator = self.take()
            right = self.unary()
            if left is UNKNOWN or right is UNKNOWN:
                return UNKNOWN
            return _compare(operator, left, right)
        return left

    def unary(self) -> Any:
        if self.peek() == "!":
            self.take()
            value = self.unary()
            return UNKNOWN if value is UNKNOWN else not _truthy(value)
        return self.primary()

    def primary(self) -> Any:
        token = self.take()
        if token == "(":
            value = self.disjunction()
            self.take(")")
            return value
        if token.startswith("'"):
            return token[1:-1].replace("''", "'")
        if token[0].isdigit():
            return float(token) if "." in token else int(token)
        if token in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[token]
        if self.peek() == "(":
            return self.call(token)
        return self.properties(self.context(token))

    def context(self, name: str) -> Any:
        if name in _KNOWN_CONTEXTS:
            return self.contexts.get(name, {})
        if name == "github" and self.tokens[self.position:self.position + 2] == [".", "workspace"]:
            self.position += 2
            return "$GITHUB_WORKSPACE"
        return UNKNOWN

    def properties(self, value: Any) -> Any:
        while self.peek() in (".", "["):
            if self.take() == ".":
                key: Any = self.take()
            else:
                key = self.disjunction()
                self.take("]")
            value = _index(value, key)
        return value

    def call(self, name: str) -> Any:
        self.take("(")
        args = []
        while self.peek() != ")":
            args.append(self.disjunction())
            if self.peek() == ",":
                self.take()
        self.take(")")
        return _call(name.lower(), args)


def _index(value: Any, key: Any) -> Any:
    if value is UNKNOWN or key is UNKNOWN:
        return UNKNOWN
    if isinstance(value, Mapping):
        return next((v for k, v in value.items() if str(k).lower() == str(key).lower()), None)
    if isinstance(value, list) and isinstance(key, (int, float)) and 0 <= key < len(value):
        return value[int(key)]
    return None


def _call(name: str, args: list[Any]) -> Any:
    if name in ("success", "always"):
        return True
    if name in ("failure", "cancelled"):
        return False
    if any(a is UNKNOWN for a in args) or name not in _FUNCTIONS or not args:
        return UNKNOWN
    return _FUNCTIONS[name](*args)


def _contains(haystack: Any, needle: Any) -> bool:
    if isinstance(haystack, list):
        return any(_compare("==", item, needle) for item in haystack)
    return _as_text(needle).lower() in _as_text(haystack).lower()


def _format(template: Any, *args: Any) -> str:
    return re.sub(r"\{(\d+)\}", lambda m: _as_text(args[int(m.group(1))])
                  if int(m.group(1)) < len(args) else m.group(0), _as_text(template))


def _from_json(text: Any) -> Any:
    try:
        return json.loads(_as_text(text))
    except ValueError:
        return UNKNOWN


_FUNCTIONS: dict[str, Any] = {
    "contains": _contains,
    "startswith": lambda a, b: _as_text(a).lower().startswith(_as_text(b).lower()),
    "endswith": lambda a, b: _as_text(a).lower().endswith(_as_text(b).lower()),
    "format": _format,
    "join": lambda items, sep=",": _as_text(sep).join(
        _as_text(i) for i in (items if isinstance(items, list) else [items])),
    "tojson": lambda value: json.dumps(value, default=str),
    "fromjson": _from_json,
}


def _compare(operator: str, left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        a: Any = left.lower()
        b: Any = right.lower()
    elif type(left) is type(right) and not isinstance(left, (str, bool)):
        a, b = left, right
    else:
        a, b = _number(left), _number(right)
    if operator in ("==", "!="):
        return (a == b) == (operator == "==")
    try:
        return bool({"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[operator])
    except TypeError:
        return False


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip()) if value.strip() else 0.0
        except ValueError:
            return math.nan
    return math.nan


def _truthy(value: Any) -> bool:
    if isinstance(value, float) and math.isnan(value):
        return False
    return value not in (None, False, 0, "")


def _as_text(value: Any) -> str:
    if value is UNKNOWN or value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return str(value)
