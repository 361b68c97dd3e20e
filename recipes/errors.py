"""citrace's errors, one family (as coverage.py's ``exceptions.py``).

Every error a user can act on is a ``CitraceError``: what went wrong, the stage it concerns
when there is one, and a hint of what to do. The command line catches it once
(``miners.cli.main``) and prints it, so no subcommand prints its own. Inside a run, a
project's error never reaches the user this way: it becomes that project's ``Failure``
(``recipes.records.StageError``), and the run goes on.
"""

from __future__ import annotations


class CitraceError(Exception):
    """An error the user can act on; ``exit_code`` is what ``citrace`` exits with."""

    exit_code = 2  # the command cannot go on as asked

    def __init__(self, message: str, *, stage: str = "", hint: str = "") -> None:
        super().__init__(message)
        self.message, self.stage, self.hint = message, stage, hint

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}" if self.hint else self.message

    def render(self, command: str) -> str:
        """The error as ``citrace COMMAND`` prints it: one line, and the hint on a second."""
        where = f"{self.stage}: " if self.stage else ""
        line = f"citrace {command}: {where}{self.message}"
        return f"{line}\n  {self.hint}" if self.hint else line
