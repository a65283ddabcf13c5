"""The few project errors. Findings are data; these are for what cannot run at all."""

from __future__ import annotations


class TransportmonError(Exception):
    """Base of every error the CLI turns into exit code 2."""


class InputError(TransportmonError):
    """A file that cannot be used at all: unreadable, wrong format, or missing a required column.

    The message names the file, the problem and what is allowed, so the analyst can fix it without reading code.
    """

    def __init__(self, path: object, problem: str, fix: str = "") -> None:
        self.path = str(path)
        self.problem = problem
        self.fix = fix
        msg = f"{self.path}: {problem}"
        if fix:
            msg += f" — {fix}"
        super().__init__(msg)


class ConfigError(TransportmonError):
    """A rule configuration or command-line value that is not allowed."""
