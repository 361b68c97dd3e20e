"""Generator expressions as arguments: one a test passes (``chunked((i * i for i in
range(7)), 3)``) and that has not started is written from its own source text, with the
iterable it was made over in place of the text that named it; checked against its own
bytecode as a lambda is; the variables it reads of the test's function are bound by a lambda
around it. Anything else (started, a generator function's, one on two lines) stays opaque,
and the function still draws exactly what it drew untraced."""

from __future__ import annotations

import textwrap

import pytest

from tests.tracer.probe_harness import BACKENDS, Traced

LIBRARY = '''
def total(values, start=0):
    """The sum of the values."""
    for value in values:
        start += value
    return start

def pairs(values):
    """Consecutive pairs, as a generator of its own."""
    values = iter(values)
    previous = next(values)
    for value in values:
        yield previous, value
        previous = value
'''

MAIN = '''
import math
import lib

def numbers():
    yield 1
    yield 2

def run():
    n = 10
    xs = [3, 1, 2]
    print(lib.total(x * 2 for x in xs))                      # (x * 2 for x in [3, 1, 2])
    print(lib.total((i for i in range(4) if i % 2), 5))      # over range(0, 4, 1)
    print(lib.total(math.floor(v) for v in (1.5, 2.5)))      # with `import math`
    print(lib.total(len(w) for w in 'ab' for _ in w))        # an inner loop stays text
    print(lib.total(a for a in (b + 1 for b in xs)))         # nested: both written
    print(list(lib.pairs(c for c in 'xyz')))                 # a generator function's argument
    print(lib.total(x + n for x in xs))                      # n bound by a lambda around it
    print(lib.total(numbers()))                              # opaque: a function's generator
    started = (x for x in [7, 8, 9])
    next(started)
    print(lib.total(started))                                # opaque: already started
    print(lib.total(x for x in {4: 5}))                      # opaque: a dict's iterator
    print(lib.total((y for y in
                     [6])))                                  # opaque: on two lines

run()
'''


@pytest.mark.parametrize(("version", "backend"), BACKENDS)
def test_a_generator_expression_passed_unstarted_is_written_from_its_text(
        traced: Traced, version: str, backend: str) -> None:
    run = traced({"lib.py": textwrap.dedent(LIBRARY), "main.py": MAIN}, version=version,
                 backend=backend, roots=("lib.py",))
    # Tracing changed nothing the program saw.
    assert run.stdout.split("\n") == [
        "12", "9", "3", "2", "9", "[('x', 'y'), ('y', 'z')]", "36", "3", "17", "4", "6", ""]
    values = [call["args"]["values"] for call in run.calls("total")]
    opaque = ("opaque", "builtins.generator", "type")
    # The probe keeps distinct calls: the opaque ones are one call, and one more where what
    # is opaque inside (the dict's iterator) is named.
    assert values == [
        "(x * 2 for x in [3, 1, 2])", "(i for i in range(0, 4, 1) if i % 2)",
        "(math.floor(v) for v in (1.5, 2.5))", "(len(w) for w in 'ab' for _ in w)",
        "(a for a in (b + 1 for b in [3, 1, 2]))",
        "(lambda n: (x + n for x in [3, 1, 2]))(10)", opaque, opaque]
    [pairs] = run.calls("pairs")
    assert pairs["args"]["values"] == "(c for c in 'xyz')"
    imports = [call["args"][0][2].get("imports") for lines in run.files for call in lines
               if call["k"] == "call" and "math" in call["args"][0][2].get("py", "")]
    assert imports == [["math"]]
    # What the text gives is what the function was given: the same result again.
    import math
    for text, call in zip(values[:6], run.calls("total"), strict=False):
        start = int(call["args"].get("start", "0"))
        assert repr(sum(eval(text, {"math": math}), start)) == call["ret"]  # noqa: S307


def test_a_result_that_is_a_generator_expression_stays_a_generator_drawn_from(
        traced: Traced) -> None:
    library = textwrap.dedent('''
        def doubled(values):
            """Each value twice as large, lazily."""
            return (v * 2 for v in values)
    ''')
    run = traced({"lib.py": library, "main.py": "import lib\nprint(list(lib.doubled([1, 2])))\n"},
                 version="3.11", backend="setprofile", roots=("lib.py",))
    assert run.stdout == "[2, 4]\n"
    [call] = run.calls("doubled")
    assert call["ret"] == ("opaque", "builtins.generator", "type")
