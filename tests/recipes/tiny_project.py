"""The smallest installable project the recipe tests build: one package, ``tiny``."""

_PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "{name}"
version = "1.0"

[tool.setuptools]
{what}
"""


def pyproject(name: str, *, packages: tuple[str, ...] = (), modules: tuple[str, ...] = ()) -> str:
    """A setuptools ``pyproject.toml`` for project ``name`` shipping these packages or
    single modules."""
    what = (f"packages = {list(packages)!r}" if packages else f"py-modules = {list(modules)!r}")
    return _PYPROJECT.format(name=name, what=what.replace("'", '"'))


TINY_PYPROJECT = pyproject("tiny", packages=("tiny",))

# A client as redis-py words its refusal; the tests expect a server on this machine.
CACHE_CLIENT = '''
import socket


def get(key, host="localhost", port=6379):
    try:
        connection = socket.create_connection((host, port), timeout=5)
    except OSError as exc:
        raise ConnectionError("Error %s connecting to %s:%s. %s." % (exc.errno, host, port,
                                                                     exc.strerror))
    connection.close()
    return key
'''
