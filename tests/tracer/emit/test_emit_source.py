"""Cutting a function out of its module, and what its prompt carries along."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tracer.emit import drops
from tracer.emit.context import ImportPolicy, build_context
from tracer.emit.drops import Drop
from tracer.emit.source import FunctionSource, ModuleSource, first_line, locate_function

POLICY = ImportPolicy(frozenset({"mypkg"}))


def parse(source: str) -> ModuleSource:
    return ModuleSource.parse(Path("mod.py"), textwrap.dedent(source).lstrip("\n"))


def locate(module: ModuleSource, name: str) -> FunctionSource:
    (unit,) = [u for u in module.units if getattr(u.node, "name", None) == name]
    return locate_function(module, name, first_line(unit.node))


def context_of(source: str, name: str = "target", policy: ImportPolicy = POLICY) -> str:
    module = parse(source)
    return build_context(module, locate(module, name), policy=policy)


def drop_reason(source: str, name: str = "target", policy: ImportPolicy = POLICY) -> str:
    with pytest.raises(Drop) as caught:
        context_of(source, name, policy)
    return caught.value.reason


def test_prompt_and_solution_put_together_are_the_function_as_written() -> None:
    module = parse('''
        def target(a,
                   b=(1, 2),  # a comment in the signature
                   *rest):
            """Add things.

                >>> target(1)
            """

            # a comment before the first statement
            total = a + sum(b)
            return total if not rest else total + 1  # a trailing comment
    ''')
    function = locate(module, "target")
    assert function.header == (
        "def target(a,\n"
        "           b=(1, 2),  # a comment in the signature\n"
        "           *rest):\n"
        '    """Add things.\n'
        "\n"
        "        >>> target(1)\n"
        '    """\n'
    )
    assert function.body == (
        "\n"
        "    # a comment before the first statement\n"
        "    total = a + sum(b)\n"
        "    return total if not rest else total + 1  # a trailing comment\n"
    )
    assert function.header + function.body == "\n".join(module.lines)
    assert function.body_indent == "    "


def test_helpers_constants_imports_and_classes_are_carried_transitively_in_source_order() -> None:
    context = context_of('''
        import os
        import re, json
        from collections import deque, OrderedDict

        UNUSED = 1
        # Separators, widest first.
        SEPARATORS = ("--", "-")  # order matters
        PATTERN = re.compile("|".join(SEPARATORS))


        class Token:
            """A piece of text."""

            def __init__(self, text):
                self.text = text

            def shout(self):
                return shout(self.text)


        def shout(text):
            return text.upper()


        def unused_helper():
            return os.getcwd()


        def split(text):
            return deque(PATTERN.split(text))


        def target(text):
            """Tokens of text."""
            return [Token(t).shout() for t in split(text)]
    ''')
    assert context == textwrap.dedent('''
        import re
        from collections import deque

        # Separators, widest first.
        SEPARATORS = ("--", "-")  # order matters
        PATTERN = re.compile("|".join(SEPARATORS))


        class Token:
            """A piece of text."""

            def __init__(self, text):
                self.text = text

            def shout(self):
                return shout(self.text)


        def shout(text):
            return text.upper()


        def split(text):
            return deque(PATTERN.split(text))
    ''').lstrip("\n")


def test_a_function_that_needs_nothing_carries_nothing() -> None:
    assert context_of('''
        import os
        LIMIT = 3

        def target(x):
            """Double."""
            return 2 * x
    ''') == ""


def test_future_imports_come_first_and_annotation_only_names_are_carried_when_possible() -> None:
    context = context_of('''
        from __future__ import annotations

        from typing import Optional
        from numpy import ndarray

        def target(x: Optional[int], y: ndarray = None) -> int:
            """Maybe zero."""
            return x or 0
    ''')
    # ndarray is only an annotation, never evaluated: left out rather than dropping.
    assert context == "from __future__ import annotations\n\nfrom typing import Optional\n"


def test_statements_that_fill_a_carried_constant_come_with_it() -> None:
    context = context_of('''
        NAMES = {}
        NAMES["a"] = 1
        NAMES.update(b=2)
        OTHER = []
        OTHER.append(1)

        def target(key):
            """Look up."""
            return NAMES[key]
    ''')
    assert context == 'NAMES = {}\nNAMES["a"] = 1\nNAMES.update(b=2)\n'


def test_comprehension_variables_and_builtins_are_not_module_names() -> None:
    context = context_of('''
        SQUARES = [i * i for i in range(5)]

        def target(n):
            """Squares below n."""
            return sorted(s for s in SQUARES if s < n)
    ''')
    assert context == "SQUARES = [i * i for i in range(5)]\n"


def test_recursive_and_mutually_recursive_functions_do_not_repeat_the_function() -> None:
    context = context_of('''
        def is_odd(n):
            return n != 0 and target(n - 1)

        def target(n):
            """Even?"""
            return n == 0 or is_odd(n - 1)
    ''')
    assert context == "def is_odd(n):\n    return n != 0 and target(n - 1)\n"


def test_fallback_definitions_in_try_blocks_are_carried_whole() -> None:
    context = context_of('''
        try:
            from math import gcd
        except ImportError:
            def gcd(a, b):
                return a

        def target(a, b):
            """Lowest common multiple."""
            return a * b // gcd(a, b)
    ''')
    assert context.startswith("try:\n    from math import gcd\n")


def test_optional_third_party_imports_with_a_fallback_are_carried() -> None:
    context = context_of('''
        try:
            import simplejson as json
        except ImportError:
            import json

        def target(x):
            """Serialise."""
            return json.dumps(x)
    ''')
    assert context.startswith("try:\n    import simplejson as json\nexcept ImportError:")
    # ...but never a project module, even optional.
    assert drop_reason('''
        try:
            from ._speedups import dumps
        except ImportError:
            from json import dumps

        def target(x):
            """Serialise."""
            return dumps(x)
    ''') == drops.NEEDS_PROJECT_MODULE


@pytest.mark.parametrize(("source", "reason"), [
    ('''
        from . import helpers
        def target(x):
            """d"""
            return helpers.f(x)
    ''', drops.NEEDS_PROJECT_MODULE),
    ('''
        from mypkg.util import f
        def target(x):
            """d"""
            return f(x)
    ''', drops.NEEDS_PROJECT_MODULE),
    ('''
        def helper(x):
            from .util import f
            return f(x)
        def target(x):
            """d"""
            return helper(x)
    ''', drops.NEEDS_PROJECT_MODULE),
    ('''
        import numpy as np
        def target(x):
            """d"""
            return np.asarray(x)
    ''', drops.NEEDS_THIRD_PARTY),
    ('''
        def target(x):
            """d"""
            import requests
            return requests.get(x)
    ''', drops.NEEDS_THIRD_PARTY),
    ('''
        from string import *
        def target(x):
            """d"""
            return ascii_letters[x]
    ''', drops.UNRESOLVED_NAME),
    ('''
        def target(x):
            """d"""
            return open(__file__).read()
    ''', drops.UNRESOLVED_NAME),
    ('''
        TABLE = list(range(2000))
        def target(x):
            """d"""
            return TABLE[x]
    '''.replace("list(range(2000))", repr(list(range(2000)))), drops.PROMPT_TOO_LONG),
    ('''
        def target(x):
            """d"""
            return log(x)
        log = target  # runs before the function could exist in the prompt
    ''', drops.CONTEXT_USES_FUNCTION),
], ids=["relative", "project-absolute", "helper-lazy-import", "third-party",
        "third-party-lazy", "star-import", "__file__", "too-long", "context-uses-function"])
def test_functions_needing_what_a_prompt_cannot_carry_are_dropped(source: str,
                                                                  reason: str) -> None:
    assert drop_reason(source) == reason


def test_an_unused_third_party_import_does_not_matter() -> None:
    assert context_of('''
        import numpy
        import re
        def target(x):
            """d"""
            return re.escape(x)
    ''') == "import re\n"


@pytest.mark.parametrize(("source", "reason"), [
    ('''
        import functools
        @functools.lru_cache()
        def target(x):
            """d"""
            return x
    ''', drops.DECORATED),
    ('''
        def target(x):
            return x
    ''', drops.NO_DOCSTRING),
    ('''
        def target(x):
            """   """
            return x
    ''', drops.NO_DOCSTRING),
    ('''
        async def target(x):
            """d"""
            return x
    ''', drops.ASYNC_FUNCTION),
    ('''
        def target(x):
            """Only a docstring."""
    ''', drops.NO_BODY),
    ('''
        def target(x):
            """d"""; return x
    ''', drops.UNSUPPORTED_LAYOUT),
], ids=["decorated", "no-docstring", "blank-docstring", "async", "no-body", "same-line"])
def test_functions_of_the_wrong_shape_are_dropped(source: str, reason: str) -> None:
    module = parse(source)
    with pytest.raises(Drop) as caught:
        locate(module, "target")
    assert caught.value.reason == reason


def test_a_generator_is_located_like_any_function() -> None:
    function = locate(parse('''
        def target(x):
            """d"""
            yield x
    '''), "target")
    assert function.body == "    yield x\n"


def test_the_probe_line_of_a_decorated_function_is_its_first_decorator() -> None:
    module = parse('''
        import functools

        @functools.wraps(len)
        @staticmethod
        def target(x):
            """d"""
            return x
    ''')
    with pytest.raises(Drop) as caught:
        locate_function(module, "target", 3)
    assert caught.value.reason == drops.DECORATED
    with pytest.raises(Drop) as caught:
        locate_function(module, "target", 5)  # the def line is not co_firstlineno here
    assert caught.value.reason == drops.SOURCE_NOT_FOUND


def test_a_definition_inside_a_top_level_if_is_dropped_as_conditional() -> None:
    module = parse('''
        import sys
        if sys.version_info > (3,):
            def target(x):
                """d"""
                return x
    ''')
    with pytest.raises(Drop) as caught:
        locate_function(module, "target", 3)
    assert caught.value.reason == drops.CONDITIONAL_DEFINITION


def test_unparsable_and_missing_sources_are_dropped(tmp_path: Path) -> None:
    broken = tmp_path / "py2.py"
    broken.write_text("print 'hello'\n")
    for path, reason in [(broken, drops.UNPARSABLE_SOURCE),
                         (tmp_path / "gone.py", drops.SOURCE_NOT_FOUND)]:
        with pytest.raises(Drop) as caught:
            ModuleSource.read(path)
        assert caught.value.reason == reason


def test_sources_with_a_coding_cookie_and_non_ascii_text_are_cut_by_characters(
        tmp_path: Path) -> None:
    path = tmp_path / "latin.py"
    path.write_bytes('# -*- coding: latin-1 -*-\nGREETING = "héllo"; OTHER = "é"\n\n'
                     'def target():\n    """Say héllo."""\n    return GREETING\n'
                     .encode("latin-1"))
    module = ModuleSource.read(path)
    function = locate_function(module, "target", 4)
    assert build_context(module, function, policy=POLICY) == 'GREETING = "héllo"\n'
    assert function.header == 'def target():\n    """Say héllo."""\n'
