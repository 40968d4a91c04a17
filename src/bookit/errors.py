"""The two ways a command can be turned down, as the contract's exit codes see them.

`Refused` (exit 1) means a domain rule said no; `BadInput` (exit 2) means the command could not
be understood or names something that does not exist. Both carry a short machine-readable code
and a message a person can act on. Neither ever leaves anything written in the store.
"""

from __future__ import annotations


class BookitError(Exception):
    exit_code = 1

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def as_dict(self) -> dict[str, str]:
        return {"error": self.message, "code": self.code}


class Refused(BookitError):
    """A domain rule refused the command (exit code 1)."""

    exit_code = 1


class BadInput(BookitError):
    """Malformed input or an unknown id (exit code 2)."""

    exit_code = 2


class NotFound(BadInput):
    def __init__(self, what: str, ident: object) -> None:
        super().__init__(f"unknown {what}: {ident}", f"unknown_{what.replace(' ', '_')}")
