"""A project whose tests are older than its newest commit (issue 16, item 3): a
``conftest.py`` of the pytest 6 era collects test cases from text files through a
``pytest_collect_file(path, parent)`` hook (``py.path`` arguments, which pytest 9 removed:
it refuses the hook) and ``from_parent(parent, fspath=path)``; later commits touch only
the package. Written for citrace's tests."""

from __future__ import annotations

# The files of the commit that wrote the tests.
TESTS_COMMIT = {
    "pyproject.toml": """
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "shouty"
        version = "1.0"
        requires-python = ">=3.8"
        """,
    "shouty.py": """
        def shout(word):
            return word.upper() + "!"


        def whisper(word):
            return word.lower() + "..."
        """,
    "tests/conftest.py": """
        import pytest

        from shouty import shout


        def pytest_collect_file(parent, path):
            if path.ext == ".txt" and path.basename.startswith("cases"):
                return CaseFile.from_parent(parent, fspath=path)


        class CaseFile(pytest.File):
            def collect(self):
                for number, line in enumerate(self.fspath.readlines(cr=False)):
                    if line.strip():
                        yield CaseItem.from_parent(self, name="case%d" % number, line=line)


        class CaseItem(pytest.Item):
            def __init__(self, name, parent, line):
                super(CaseItem, self).__init__(name, parent)
                self.word, self.expected = line.split()

            def runtest(self):
                assert shout(self.word) == self.expected

            def reportinfo(self):
                return self.fspath, 0, self.name
        """,
    "tests/cases.txt": """
        hello HELLO!
        quiet QUIET!
        """,
    "tests/test_words.py": """
        from shouty import shout, whisper


        def test_shout():
            assert shout("hey") == "HEY!"


        def test_whisper():
            assert whisper("HEY") == "hey..."
        """,
}
# A later commit that changes only the package.
PACKAGE_COMMIT = {
    "shouty.py": """
        def shout(word):
            return word.upper() + "!"


        def whisper(word):
            \"\"\"Quietly.\"\"\"
            return word.lower() + "..."
        """,
}
