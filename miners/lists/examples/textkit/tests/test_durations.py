import pytest

from textkit import format_duration, parse_duration


@pytest.mark.parametrize("text, seconds", [("1h 30m", 5400), ("2d4h", 187200), ("45s", 45),
                                           ("1m1m", 120)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


def test_parse_duration_rejects_nonsense():
    with pytest.raises(ValueError):
        parse_duration("soon")


def test_format_duration():
    assert format_duration(5400) == "1h30m"
    assert format_duration(0) == "0s"
    assert format_duration(90061) == "1d1h1m1s"
    assert parse_duration(format_duration(3725)) == 3725
