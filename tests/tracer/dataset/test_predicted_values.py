"""The output-prediction checker: values read from their text, never run, and compared by
structure with exact types."""

from __future__ import annotations

import pytest

from tracer.dataset.predicted_values import UnreadableValue, read_value, same_value


def same(predicted: str, expected: str) -> bool:
    return same_value(read_value(predicted), read_value(expected))


@pytest.mark.parametrize(("predicted", "expected"), [
    ('"IV"', "'IV'"),
    ("[1, 2]", "[1,2]"),
    ("{'b': 2, 'a': 1}", "{'a': 1, 'b': 2}"),  # a dict's order is no part of its value
    ("{3, 1, 2}", "{1, 2, 3}"),
    ("float('nan')", "float('nan')"),  # NaN equals NaN
    ("float('inf')", "float('inf')"),
    ("-float('inf')", "-float('inf')"),
    ("0.30000000000000004", "0.3"),  # within the tests' own tolerance
    ("(1.5, frozenset({1, 2}), None)", "(1.5, frozenset({2, 1}), None)"),
    ("set()", "set()"),
    ("frozenset()", "frozenset()"),
    ("1+2j", "complex(1.0, 2.0)"),
    ("-5", "-5"),
    ("b'\\x00'", "b'\\x00'"),
    ("bytearray(b'ab')", "bytearray(b'ab')"),
    ("range(0, 3, 1)", "range(0, 3)"),
    ("datetime.date(2020, 2, 1)", "datetime.date(2020, 2, 1)"),
    ("datetime.timedelta(days=1)", "datetime.timedelta(days=1, seconds=0, microseconds=0)"),
    ("decimal.Decimal('1.0')", "decimal.Decimal('1.00')"),
    ("collections.OrderedDict([('a', 1)])", "collections.OrderedDict([('a', 1)])"),
    ("collections.defaultdict(list, {'a': [1]})", "collections.defaultdict(list, {'a': [1]})"),
    ("collections.deque([1, 2])", "collections.deque([1, 2])"),
    ("Unit.DAYS", "Unit.DAYS"),  # a name: equal to the same name
    ("datetime.timezone.utc", "datetime.timezone.utc"),
    (" 'IV'\n", "'IV'"),  # surrounding blanks
])
def test_equal_values(predicted: str, expected: str) -> None:
    assert same(predicted, expected)


@pytest.mark.parametrize(("predicted", "expected"), [
    ("1.0", "1"),  # the type is part of the answer: int, float and bool are three
    ("True", "1"),
    ("1", "True"),
    ("(1, 2)", "[1, 2]"),
    ("frozenset({1})", "{1}"),
    ("{1.0}", "{1}"),
    ("{'a': 1}", "collections.OrderedDict([('a', 1)])"),
    ("collections.OrderedDict([('b', 2), ('a', 1)])",
     "collections.OrderedDict([('a', 1), ('b', 2)])"),  # its order is part of its value
    ("collections.defaultdict(int, {})", "collections.defaultdict(list, {})"),
    ("collections.deque([1], 3)", "collections.deque([1])"),
    ("0.31", "0.3"),
    ("float('nan')", "0.0"),
    ("[1, 2, 3]", "[1, 2]"),
    ("{1: 'a'}", "{True: 'a'}"),
    ("'iv'", "'IV'"),
    ("None", "'IV'"),
    ("Unit.HOURS", "Unit.DAYS"),
    ("b'IV'", "'IV'"),
])
def test_different_values(predicted: str, expected: str) -> None:
    assert not same(predicted, expected)


@pytest.mark.parametrize("text", [
    "",
    "to_roman(4)",  # a call of anything but the probe's markers and stdlib constructors
    "__import__('os').system('true')",
    "[x for x in range(3)]",
    "1 if True else 2",
    "2 ** 10",
    "{**{'a': 1}}",
    "float('1.5')",  # float() only as the marker of nan and the infinities
    "set(3)",
    "bytearray(10)",
    "datetime.date(2020, 13, 1)",  # the constructor refuses it: an error, not a crash
    "{[1]: 2}",
    "'a' - 'b'",
    "...",
    "x" * 100_001,
    "[" * 5000 + "]" * 5000,  # deeper than the parser or the reader go
    "1" * 5000,  # more digits than int() reads
])
def test_unreadable_texts_are_refused(text: str) -> None:
    with pytest.raises(UnreadableValue):
        read_value(text)


def test_nothing_in_a_text_runs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "ran"
    with pytest.raises(UnreadableValue):
        read_value(f"open({str(marker)!r}, 'w')")
    assert not marker.exists()
