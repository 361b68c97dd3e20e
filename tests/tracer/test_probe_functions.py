"""Functions as values: a callback a test passes (``key=lambda x: -x``, a test's own
``def iseven(x): return x % 2 == 0``) is written as a lambda from its source file when that
text is all it needs, checked against the function's own bytecode; anything else stays
opaque."""

from __future__ import annotations

import math
import textwrap

import pytest

from tests.tracer.probe_harness import BACKENDS, Traced

LIBRARY = '''
def apply(xs, key):
    """key of each x."""
    return [key(x) for x in xs]

def combine(pairs, f):
    """f of each pair."""
    return [f(a, b) for a, b in pairs]
'''

# Each call's comment says what the probe must write for `key`; the inputs differ (the
# probe keeps distinct calls).
MAIN = '''
from __future__ import division  # a flag of the file's, not of the function's code
import math, random
import math as m
import lib

def iseven(x): return x % 2 == 0

def negate(x):
    return -x

def two_lines(x):
    y = x * 2
    return y

def documented(x):
    """Has a docstring: its code's constants differ from a lambda's."""
    return x

def make(n):
    return lambda x: x + n

def scale(x):
    return x * FACTOR

FACTOR = 3
sorted = sorted

lib.apply([1, 2], lambda x: x + 1); lib.apply([1, 2], lambda x: x + 2)  # both, told apart
lib.apply([1, 2], iseven)
lib.apply([3, 4], iseven)                      # lambda x: x % 2 == 0
lib.apply([1, 2], negate)                      # lambda x: -x
lib.apply(['ab'], lambda s: s.upper())         # a method of the value is no free name
lib.apply([3], lambda n: [i * i for i in range(n) if i])
lib.apply([4.5], lambda x: math.floor(x))      # with `import math`
lib.apply([1], lambda x: lambda y: x + y)      # the inner one's x is bound by the outer
lib.apply([13], make(5))                       # its closure bound around it
lib.apply([11], two_lines)                      # opaque: two statements
lib.apply([12], documented)                    # opaque
class Zero:
    def __radd__(self, other): return other
lib.apply([23], make(Zero()))                  # opaque: what its closure holds
lib.apply([14], scale)                         # opaque: FACTOR is the module's
lib.apply([[15]], lambda v: sorted(v))       # opaque: the module rebinds `sorted`
lib.apply([16], lambda x, y=1: x + y)          # opaque: a default
lib.apply([17], lambda x: id(x))               # opaque: depends on the run
lib.apply([21], lambda x: random.random())     # opaque: not a pure module
lib.apply([22], lambda x: m.floor(x))          # opaque: not the module's own name
lib.apply([18], lambda x: (x,
                           x))               # opaque: goes on to the next line
# Code that names a file and line whose text is another lambda (a file edited since) or
# whose "file" is a pipe nobody writes to: opaque, and the probe does not wait.
import os
first = [n for n, line in enumerate(open('main.py'), 1) if 'x + 2)  # both' in line][0]
elsewhere = '\\n' * (first - 1) + 'lambda x: x * 120'
lib.apply([19], eval(compile(elsewhere, os.path.abspath('main.py'), 'eval')))
os.mkfifo('pipe.py')
lib.apply([20], eval(compile('lambda x: x', os.path.abspath('pipe.py'), 'eval')))
lib.combine([(1, 2)], lambda a, b: a * b), lib.combine([(3, 4)], lambda a, b: (b, a))
import functools
lib.apply([1, 2], functools.partial(pow, 2))
lib.apply([1, 2], functools.partial(lambda a, b: a - b, 10))
marked = functools.partial(pow, 3)
marked.note = 'an attribute of its own'
lib.apply([1, 2], marked)                      # opaque
print('done')
'''


@pytest.mark.parametrize(("version", "backend"), BACKENDS)
def test_a_function_given_as_a_value_is_written_as_a_lambda_when_its_text_is_all_it_needs(
        traced: Traced, version: str, backend: str) -> None:
    run = traced({"lib.py": textwrap.dedent(LIBRARY), "main.py": MAIN}, version=version,
                 backend=backend, roots=("lib.py",))
    assert run.stdout == "done\n"
    keys = [call["args"]["key"] for call in run.calls("apply")[:-3]]
    written = [key for key in keys if isinstance(key, str)]
    assert written == ["lambda x: x + 1", "lambda x: x + 2", "lambda x: x % 2 == 0",
                       "lambda x: x % 2 == 0", "lambda x: -x", "lambda s: s.upper()",
                       "lambda n: [i * i for i in range(n) if i]", "lambda x: math.floor(x)",
                       "lambda x: lambda y: x + y", "(lambda n: lambda x: x + n)(5)"]
    assert keys[len(written):] == [("opaque", "builtins.function", "type")] * 12
    imports = [call["args"][1][2].get("imports") for lines in run.files for call in lines
               if call["k"] == "call" and call["args"][1][0] == "key"
               and call["args"][1][2].get("py", "").startswith(("lambda", "(lambda"))]
    assert [(text, i) for text, i in zip(written, imports, strict=True) if i] == [
        ("lambda x: math.floor(x)", ["math"])]
    # A lambda's parameters are part of it, up to its colon.
    assert [call["args"]["f"] for call in run.calls("combine")] == [
        "lambda a, b: a * b", "lambda a, b: (b, a)"]
    # A partial is written with its function, whatever way that is written.
    partials = [call["args"]["key"] for call in run.calls("apply")[-3:]]
    assert partials == ["functools.partial(pow, 2)",
                        "functools.partial(lambda a, b: a - b, 10)",
                        ("opaque", "functools.partial", "type")]
    # What the text gives is the function the test passed: same results from the same input.
    for text, call in zip(written, run.calls("apply"), strict=False):
        if "lambda y" not in text:
            xs = eval(call["args"]["xs"])  # noqa: S307 (the test's own literals)
            assert repr([eval(text, {"math": math})(x) for x in xs]) == call["ret"]  # noqa: S307
