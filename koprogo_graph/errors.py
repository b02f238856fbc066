"""Expected failures, as GraphQL errors carrying ``extensions.code`` (SPEC §4).

Resolvers raise these; anything else is unexpected and gets masked as ``INTERNAL``.
"""

from __future__ import annotations

from graphql import GraphQLError

__all__ = [
    "BadUserInput",
    "Forbidden",
    "KoprogoError",
    "NotFound",
    "RateLimited",
    "Unauthenticated",
]


class KoprogoError(GraphQLError):
    """Root of the errors a client is meant to see."""

    code = "INTERNAL"

    def __init__(self, message: str, **extensions: object) -> None:
        super().__init__(message, extensions={"code": self.code, **extensions})


class Unauthenticated(KoprogoError):
    code = "UNAUTHENTICATED"

    def __init__(self, message: str = "Authentication required: a valid bearer token") -> None:
        super().__init__(message)


class Forbidden(KoprogoError):
    code = "FORBIDDEN"

    def __init__(self, message: str = "Your role may not do this") -> None:
        super().__init__(message)


class NotFound(KoprogoError):
    code = "NOT_FOUND"

    def __init__(self, what: str = "Object", *, field: str | None = None) -> None:
        if field is None:
            super().__init__(f"{what} not found")
        else:
            super().__init__(f"{field}: {what} not found", field=field)


class BadUserInput(KoprogoError):
    """An argument is invalid; ``field`` names it (camelCase, as the client wrote it)."""

    code = "BAD_USER_INPUT"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", field=field)
        self.field = field


class RateLimited(KoprogoError):
    code = "RATE_LIMITED"

    def __init__(self) -> None:
        super().__init__("Too many requests: slow down and retry in a few seconds")
