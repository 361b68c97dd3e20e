"""The smallest installable project the recipe tests build: one package, ``tiny``."""

TINY_PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "tiny"
version = "1.0"

[tool.setuptools]
packages = ["tiny"]
"""

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
