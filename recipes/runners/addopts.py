"""pytest options a project's configuration names for plugins that are gone.

A 2014 ``pytest.ini`` says ``addopts = --pep8 --clearcache``: the plugins behind them
(pytest-pep8, pytest-cache) no longer install or load on the pytest of today, and pytest
refuses to start ("error: unrecognized arguments: --clearcache --pep8"), so not one test
runs (dictdiffer 0.3.0). Such options lint, cache or measure: none of them chooses what
runs. When a run's output shows pytest refusing options that come from the configuration
file it names, the tests run again with that file's ``addopts`` minus those options, and
every other option the project wrote kept:

- in an INI file (``pytest.ini``, ``tox.ini``, ``setup.cfg``) the ``addopts`` entry is
  rewritten in the checkout, which every pytest reads whatever launched it (the fallback's
  command, a CI job's shell line, tox, ``setup.py test``), back to the pytest of 2012;
- in ``pyproject.toml`` (read by pytest 6 and later) the checkout is left alone and
  ``PYTEST_ADDOPTS=--override-ini=addopts=...`` says it (tox passes it on).
"""

from __future__ import annotations

import configparser
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from recipes.sandbox import untrusted

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib

VARIABLE = "PYTEST_ADDOPTS"
_UNRECOGNIZED = re.compile(r"error: unrecognized arguments: (.+)")
_CONFIG_FILE = re.compile(r"^\s*(?:inifile|configfile): (\S.*?)\s*$", re.M)
_SECTIONS = ("pytest", "tool:pytest")
_SECTION = re.compile(r"^\[([^\]]+)\]")
_ADDOPTS = re.compile(r"^addopts\s*[=:]")


@dataclass(frozen=True)
class Dropped:
    """Options left out of a configuration's ``addopts`` (or a plugin turned off), and how
    the next run is told."""

    options: list[str]
    note: str  # what was done, for the log and the recipe's repairs
    environment: dict[str, str]  # for the tests; empty when the file itself was rewritten


# setuptools 71 and later vendor typeguard, whose pytest plugin (registered through the
# vendored copy's entry point once something imports setuptools) asks the pytest of 2020
# for an ini option type it does not know, and pytest dies before collecting (Pint 0.16.1
# on 3.8). Nothing of the project's needs it.
_VENDORED_PLUGIN = re.compile(r"setuptools/_vendor/(\w+)/_pytest_plugin\.py")


def drop_vendored_plugin(output: str) -> Dropped | None:
    """When ``output`` shows pytest dying in a plugin that setuptools vendors: that plugin
    turned off (``-p no:NAME`` in ``PYTEST_ADDOPTS``); None otherwise."""
    found = _VENDORED_PLUGIN.search(output)
    if found is None:
        return None
    option = f"-p no:{found.group(1)}"
    return Dropped([option], f"ran the tests again without setuptools' vendored "
                             f"{found.group(1)} pytest plugin, which their pytest cannot load "
                             f"({option})", {VARIABLE: option})


def drop_unknown(output: str, checkout: Path) -> Dropped | None:
    """When ``output`` shows pytest refusing options that the configuration file's
    ``addopts`` holds: leave them out (the file rewritten, or ``PYTEST_ADDOPTS``); None
    when it shows no such thing. Only a file at the checkout's top is read and written:
    the tests ran before this, and a link they left in its place is never followed
    (``untrusted``)."""
    refused, named = _UNRECOGNIZED.search(output), _CONFIG_FILE.search(output)
    if refused is None or named is None:
        return None
    config = checkout / Path(named.group(1)).name
    addopts = read_addopts(config)
    kept, dropped = _without(addopts, set(refused.group(1).split()), checkout)
    if not dropped:
        return None
    note = (f"ran the tests again without the pytest options no installed plugin knows, "
            f"from {config.name}'s addopts: {' '.join(dropped)}")
    if config.name == "pyproject.toml":
        value = shlex.quote("--override-ini=addopts=" + shlex.join(kept))
        return Dropped(dropped, note, {VARIABLE: value})
    if not _rewrite_addopts(config, shlex.join(kept)):
        return None
    return Dropped(dropped, note, {})


def _without(addopts: list[str], unknown: set[str], checkout: Path,
             ) -> tuple[list[str], list[str]]:
    """(the options kept, those left out): the unknown ones, and the value after one that
    takes apart (``--timeout 30``: argparse reports the option, its value would become a
    path). A word that is no option is kept (``tests``: where the tests are)."""
    kept: list[str] = []
    dropped: list[str] = []
    index = 0
    while index < len(addopts):
        word = addopts[index]
        index += 1
        if word not in unknown or not word.startswith("-"):
            kept.append(word)
            continue
        dropped.append(word)
        following = addopts[index] if index < len(addopts) else ""
        if "=" not in word and following and not following.startswith("-") and not (
                checkout / following).exists():
            dropped.append(following)
            index += 1
    return kept, dropped


def _rewrite_addopts(config: Path, value: str) -> bool:
    """Replace the ``addopts`` entry (with its continuation lines) of the pytest section of
    an INI file by ``addopts = value``; False when there is none to replace."""
    try:
        lines = untrusted.read_text(config).splitlines(keepends=True)
    except OSError:
        return False
    section = ""
    for index, line in enumerate(lines):
        header = _SECTION.match(line)
        if header:
            section = header.group(1).strip()
            continue
        if section in _SECTIONS and _ADDOPTS.match(line):
            end = index + 1
            while end < len(lines) and lines[end][:1] in (" ", "\t") and lines[end].strip():
                end += 1
            lines[index:end] = [f"addopts = {value}\n"]
            untrusted.write_text(config, "".join(lines))
            return True
    return False


def read_addopts(config: Path) -> list[str]:
    """The ``addopts`` of a pytest configuration file, split as pytest splits them."""
    try:
        text = untrusted.read_text(config)
    except OSError:
        return []
    if config.name == "pyproject.toml":
        try:
            options = tomllib.loads(text).get("tool", {}).get("pytest", {}).get("ini_options", {})
        except (tomllib.TOMLDecodeError, AttributeError):
            return []
        value = options.get("addopts", "") if isinstance(options, dict) else ""
        return [str(v) for v in value] if isinstance(value, list) else shlex.split(str(value))
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return []
    for section in _SECTIONS:
        if parser.has_option(section, "addopts"):
            try:
                return shlex.split(parser.get(section, "addopts"))
            except ValueError:  # an unclosed quote: pytest itself would refuse it
                return []
    return []

