"""The forge's refusals and failures, as the bot's own exceptions: nothing outside `bot.vcs` sees PyGithub's.

Each carries the HTTP status the forge answered (0 when it did not answer at all) and a message safe to show
people (no token, no request headers).
"""

from __future__ import annotations


class ForgeError(Exception):
    """A request to the forge was refused or failed."""

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def __str__(self) -> str:
        return f"HTTP {self.status}: {self.message}" if self.status else self.message

    @property
    def short(self) -> str:
        """`HTTP 404`, or the kind of failure when the forge did not answer: for one-line reports."""
        return f"HTTP {self.status}" if self.status else type(self).__name__


class NotFound(ForgeError):
    """404: no such repository, pull request, file or user, or one the credentials may not see."""


class Forbidden(ForgeError):
    """401 or 403: the credentials are refused, or may not do this."""


class Conflict(ForgeError):
    """409: the thing changed since it was read (a file's blob, a head), or the request clashes with it."""


class Invalid(ForgeError):
    """422 (or another 4xx): the forge refuses the request as made (a pull request with no commits, a
    review on one's own pull request, a merge a branch protection holds back...)."""


class Unavailable(ForgeError):
    """5xx, a timeout, or no answer: trying again later may help."""


def for_status(status: int, message: str) -> ForgeError:
    """The exception for an HTTP error status."""
    if status == 404:
        return NotFound(message, status=status)
    if status in (401, 403):
        return Forbidden(message, status=status)
    if status == 409:
        return Conflict(message, status=status)
    if status >= 500 or status == 0:
        return Unavailable(message, status=status)
    return Invalid(message, status=status)
