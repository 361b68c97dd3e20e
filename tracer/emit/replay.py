"""The values of a call that returned an iterator object, learnt by running the call again.

The probe records an iterator that is not a generator (``map``, ``filter``, ``iter(f, [])``
as more-itertools' ``chunked`` returns, itertools objects) as opaque: drawing from a C
iterator would change what the program sees. Its inputs are literals, though, so validation
runs the function itself on them, as every validation run does (the canonical solution under
its prompt, in the sandbox, at the traced Python: ``run_check``), and draws up to
``MAX_YIELDS + 1`` values: that many tell an iterator that stops within ``MAX_YIELDS`` from one
that goes on. It does so twice; the call's block then asserts those values as a generator's
would. A replay that raises, times out, returns no iterator or draws other values the second
time drops the call (``replay_failed``); values that are not plain literals drop it as
``opaque_value``.
"""

from __future__ import annotations

import builtins
import collections
import datetime
import decimal
import fractions
import math
import uuid
from collections.abc import Sequence
from typing import Any

from tracer.check.run import CheckResult
from tracer.emit.asserts import MAX_ASSERT_CHARS, yields_assert
from tracer.emit.drops import LONG_VALUE, OPAQUE_VALUE, REPLAY_FAILED, UNPARSABLE_VALUE
from tracer.inject import ProbeConfig

MAX_YIELDS = ProbeConfig.max_yields  # as many values as the probe records of a generator
REPLAYS = 2
MARK = "citrace-replay:"
_STOPPED, _MORE, _OPAQUE = "stopped", "more", "opaque"

# Runs in the checker (3.6 syntax), where ``candidate`` stands for the completion's function
# and an iterator it returns is drawn from one value at a time. The values go back to the host
# in the harness's own wire format (its ``encode``, reached through the ``Candidate`` class):
# printed as hex on one line, read with ``CheckResult.marked_value``, never evaluated.
_TEST = '''\
def check(candidate):
    import sys
    encode = type(candidate).__call__.__globals__["encode"]
    got = {call}
    drawn, end = [], {more!r}
    for _ in range({limit}):
        try:
            drawn.append(next(got))
        except StopIteration:
            end = {stopped!r}
            break
        except Exception as exc:
            # The harness's own CandidateError (not a class named after a raised exception,
            # which derives from it): the value drawn is not a plain value.
            if type(exc).__name__ == "CandidateError" and type(exc).__mro__[1] is Exception:
                drawn, end = [], {opaque!r}
                break
            raise
    try:
        data = encode((end, drawn))
    except TypeError:  # an object (a class of the prompt's, a datetime): no literal source
        data = encode(({opaque!r}, []))
    sys.stdout.write("\\n" + {mark!r} + data.hex() + "\\n")
'''


def replay_test(call_text: str) -> str:
    """The test that replays ``call_text`` (``candidate(...)``) and prints what it draws."""
    return _TEST.format(call=call_text, limit=MAX_YIELDS + 1, more=_MORE, stopped=_STOPPED,
                        opaque=_OPAQUE, mark=MARK)


def replayed_block(call_text: str, results: Sequence[CheckResult]) -> str | tuple[str, str]:
    """The block asserting what the replays (``REPLAYS`` runs of ``replay_test``) drew, and
    the values as text; or the reason to drop the call."""
    outcomes = [_outcome(result) for result in results]
    first = outcomes[0]
    if first is None or any(other != first for other in outcomes[1:]):
        return REPLAY_FAILED
    end, sources = first
    if end == _OPAQUE or any(source is None for source in sources):
        return OPAQUE_VALUE
    exhausted = end == _STOPPED
    values = [source or "" for source in sources[:MAX_YIELDS]]
    line, shown, _ = yields_assert(call_text, values, exhausted=exhausted)
    if len(line) > MAX_ASSERT_CHARS:
        return LONG_VALUE
    try:
        compile(line, "<assert>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return UNPARSABLE_VALUE
    return f"    {line}\n", shown


def _outcome(result: CheckResult) -> tuple[str, tuple[str | None, ...]] | None:
    """How the replay ended and the source of each value drawn (None: opaque); None when
    the replay failed."""
    got = result.marked_value(MARK)
    if type(got) is not tuple or len(got) != 2:
        return None
    end, drawn = got
    if end not in (_STOPPED, _MORE, _OPAQUE) or type(drawn) is not list:
        return None
    return end, tuple(source(value) for value in drawn)


# The standard-library modules whose values ``source(..., stdlib=True)`` writes.
STDLIB_RESULT_MODULES = ("datetime", "decimal", "fractions", "uuid", "collections")


def source(value: Any, *, stdlib: bool = False) -> str | None:
    """A plain value (what crosses the harness's wire) as the probe writes it (sets sorted,
    ``float('nan')``...), so replayed values read like recorded ones; None for any other.
    ``stdlib``: a date, a naive datetime or time, a timedelta, a Decimal, a Fraction, a
    UUID, an OrderedDict, a Counter, a deque or a defaultdict at the top too, as the probe
    writes them (the test must import their module).
    The probe itself is not imported: it is kept out of the host's typed code."""
    kind = type(value)
    if value is None or kind in (bool, int, str, bytes):
        return repr(value)
    if stdlib and kind.__module__ in STDLIB_RESULT_MODULES:
        return _stdlib_source(value)
    if kind is float:
        if math.isnan(value):
            return "float('nan')"
        return repr(value) if math.isfinite(value) else f"{'-' if value < 0 else ''}float('inf')"
    if kind is complex:
        return f"complex({source(value.real)}, {source(value.imag)})"
    if kind is bytearray:
        return f"bytearray({bytes(value)!r})"
    if kind is dict:
        items = [(source(k), source(v)) for k, v in value.items()]
        if any(k is None or v is None for k, v in items):
            return None
        return "{" + ", ".join(f"{k}: {v}" for k, v in items) + "}"
    if kind not in (list, tuple, set, frozenset):
        return None
    found = [source(item) for item in value]
    if any(part is None for part in found):
        return None
    parts = [part or "" for part in found]
    text = ", ".join(sorted(parts) if kind in (set, frozenset) else parts)
    if kind is list:
        return f"[{text}]"
    if kind is tuple:
        return f"({text},)" if len(parts) == 1 else f"({text})"
    if kind is set:
        return f"{{{text}}}" if parts else "set()"
    return f"frozenset({{{text}}})" if parts else "frozenset()"


def _stdlib_source(value: Any) -> str | None:
    kind = type(value)
    if kind is datetime.date:
        return f"datetime.date({value.year}, {value.month}, {value.day})"
    if kind is datetime.timedelta:
        return (f"datetime.timedelta(days={value.days}, seconds={value.seconds}, "
                f"microseconds={value.microseconds})")
    if kind in (datetime.datetime, datetime.time):
        if value.tzinfo is not None or value.fold:
            return None
        fields = [value.hour, value.minute, value.second, value.microsecond]
        if kind is datetime.datetime:
            fields = [value.year, value.month, value.day, *fields]
        return f"datetime.{kind.__name__}({', '.join(map(str, fields))})"
    if kind in (decimal.Decimal, uuid.UUID):
        return f"{kind.__module__}.{kind.__name__}({str(value)!r})"
    if kind is fractions.Fraction:
        return f"fractions.Fraction({value.numerator}, {value.denominator})"
    return _collection_source(value)


def _collection_source(value: Any) -> str | None:
    kind = type(value)
    if kind is collections.deque:
        items = source(list(value))
        if items is None:
            return None
        return f"collections.deque({items})" if value.maxlen is None else (
            f"collections.deque({items}, {value.maxlen})")
    if kind is collections.OrderedDict:
        pairs = source(list(value.items()))
        return None if pairs is None else f"collections.OrderedDict({pairs})"
    content = source(dict(value)) if kind in (collections.Counter,
                                              collections.defaultdict) else None
    if content is None:
        return None
    if kind is collections.Counter:
        return f"collections.Counter({content})"
    # The harness rebuilds a defaultdict only with None or a builtin type as its factory.
    factory = value.default_factory
    name = "None" if factory is None else getattr(factory, "__name__", "")
    if name != "None" and getattr(builtins, name, None) is not factory:
        return None
    return f"collections.defaultdict({name}, {content})"
