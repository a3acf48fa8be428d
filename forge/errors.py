"""GitHub's error responses as exceptions: each carries the status code and the JSON body GitHub sends."""

from __future__ import annotations

from typing import Any

DOCS = "https://docs.github.com/rest"


class ForgeError(Exception):
    """An API refusal; `body()` is what GitHub would answer."""

    status = 400
    default_message = "Bad Request"

    def __init__(self, message: str | None = None, *, errors: list[Any] | None = None) -> None:
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.errors = errors

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message}
        if self.errors is not None:
            body["errors"] = self.errors
        body["documentation_url"] = DOCS
        body["status"] = str(self.status)
        return body


class BadJSON(ForgeError):
    status = 400
    default_message = "Problems parsing JSON"


class Unauthorized(ForgeError):
    status = 401
    default_message = "Requires authentication"


class BadCredentials(Unauthorized):
    default_message = "Bad credentials"


class Forbidden(ForgeError):
    status = 403
    default_message = "Resource not accessible by personal access token"


class NotFound(ForgeError):
    status = 404
    default_message = "Not Found"


class NotAllowed(ForgeError):
    status = 405
    default_message = "Pull Request is not mergeable"


class Conflict(ForgeError):
    status = 409
    default_message = "Conflict"


class TooLarge(ForgeError):
    status = 413
    default_message = "Payload too large"


class Invalid(ForgeError):
    """422 Validation Failed, with GitHub's `errors` list."""

    status = 422
    default_message = "Validation Failed"

    @classmethod
    def field(cls, resource: str, field: str, code: str = "invalid", message: str | None = None) -> Invalid:
        error: dict[str, Any] = {"resource": resource, "field": field, "code": code}
        if message:
            error["message"] = message
        return cls(errors=[error])

    @classmethod
    def custom(cls, resource: str, message: str) -> Invalid:
        return cls(errors=[{"resource": resource, "code": "custom", "message": message}])
