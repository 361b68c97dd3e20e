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
