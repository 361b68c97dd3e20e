"""Reading shell just enough to judge CI steps: where one simple command ends and the next
begins (``&&``, ``||``, ``;``, ``|``, newlines), with quotes, ``$(...)``, backquotes, comments
and here-documents respected, and a command's words. Not a shell parser: no expansion, and
``if``/``for`` bodies are split like any other commands.
"""

from __future__ import annotations

import re
import shlex

Token = tuple[str, str]  # ("cmd" | "pipe" | "sep", text)
Pipeline = list[Token]  # commands ("cmd") joined by "|" ("pipe")
_HEREDOC_WORD = re.compile(r"-?\s*(['\"]?)([\w.-]+)\1")


def split(script: str) -> list[Token]:
    """Commands and the operators between them, at the top level of ``script``."""
    tokens: list[Token] = []
    start = i = depth = 0
    heredocs: list[tuple[str, bool]] = []
    n = len(script)
    while i < n:
        c = script[i]
        if c == "\\":
            i += 2
        elif c == "'":
            close = script.find("'", i + 1)
            i = n if close < 0 else close + 1
        elif c in "\"`":
            i = _skip_quoted(script, i + 1, c)
        elif c == "#" and (i == 0 or script[i - 1] in " \t\n;&|("):
            close = script.find("\n", i)
            i = n if close < 0 else close
        elif c in "()":
            depth = depth + 1 if c == "(" else max(0, depth - 1)
            i += 1
        elif depth:
            i += 1
        elif script.startswith("<<", i) and not script.startswith("<<<", i):
            i = _read_heredoc_word(script, i + 2, heredocs)
        elif c == "\n" and heredocs:
            i = _skip_heredoc_bodies(script, i + 1, heredocs)
            heredocs = []
        elif sep := _separator_at(script, i):
            tokens.append(("cmd", script[start:i]))
            tokens.append(("pipe" if sep in ("|", "|&") else "sep", sep))
            i += len(sep)
            start = i
        else:
            i += 1
    tokens.append(("cmd", script[start:]))
    return tokens


def _skip_quoted(script: str, i: int, quote: str) -> int:
    while i < len(script):
        if script[i] == "\\":
            i += 2
        elif script[i] == quote:
            return i + 1
        else:
            i += 1
    return len(script)


def _separator_at(script: str, i: int) -> str:
    for sep in ("&&", "||", ";;", "|&", "\n", ";", "|"):
        if script.startswith(sep, i):
            return sep
    if script[i] == "&" and (i == 0 or script[i - 1] not in "<>") \
            and not script.startswith("&>", i):
        return "&"
    return ""


def _read_heredoc_word(script: str, i: int, heredocs: list[tuple[str, bool]]) -> int:
    strip_tabs = script.startswith("-", i)
    match = _HEREDOC_WORD.match(script, i)
    if not match:
        return i
    heredocs.append((match.group(2), strip_tabs))
    return match.end()


def _skip_heredoc_bodies(script: str, i: int, heredocs: list[tuple[str, bool]]) -> int:
    for word, strip_tabs in heredocs:
        while i < len(script):
            end = script.find("\n", i)
            end = len(script) if end < 0 else end
            line = script[i:end]
            i = end + 1
            if (line.lstrip("\t") if strip_tabs else line) == word:
                break
    return min(i - 1, len(script))  # stop on the newline that ends the last body


def pipelines(tokens: list[Token]) -> list[tuple[Pipeline, str]]:
    """Group commands joined by ``|`` into pipelines, each with the separator after it."""
    found: list[tuple[Pipeline, str]] = []
    current: Pipeline = []
    for token in tokens:
        if token[0] == "sep":
            found.append((current, token[1]))
            current = []
        else:
            current.append(token)
    found.append((current, ""))
    return found


def words(text: str) -> list[str]:
    """A command's words as the shell would split them (comments dropped), or split on
    white space when the quotes do not balance."""
    try:
        return shlex.split(text, comments=True)
    except ValueError:
        return text.split()
