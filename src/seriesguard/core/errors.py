"""Domain errors. Each names the rule that was broken and where, so adapters can map them
to a 4xx body without guessing."""

from __future__ import annotations

from collections.abc import Sequence

Loc = tuple[str | int, ...]


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""

    rule: str = "domain_error"

    def __init__(self, message: str, *, rule: str | None = None, loc: Sequence[str | int] = ()):
        super().__init__(message)
        self.message = message
        if rule is not None:
            self.rule = rule
        self.loc: Loc = tuple(loc)


class InvalidInput(DomainError):
    """The request broke a validation rule (422)."""

    rule = "invalid_input"


class Unauthenticated(DomainError):
    """No bearer token, or one that cannot be trusted (401). ``rule`` says which check failed."""

    rule = "unauthenticated"


class Forbidden(DomainError):
    """The caller is known but their roles do not grant this operation (403)."""

    rule = "forbidden"


class NotFound(DomainError):
    """The thing named does not exist (404)."""

    rule = "not_found"


class Conflict(DomainError):
    """The thing exists but is in the wrong state for this operation (409)."""

    rule = "conflict"


class RateLimited(DomainError):
    """Too soon after the previous request of the same kind (429)."""

    rule = "rate_limited"

    def __init__(self, message: str, *, retry_after: float, loc: Sequence[str | int] = ()):
        super().__init__(message, loc=loc)
        self.retry_after = retry_after


class NotImplementedYet(DomainError):
    """A documented feature that this release does not offer yet (501)."""

    rule = "not_implemented"


class Unavailable(DomainError):
    """A backend this operation needs is down (503)."""

    rule = "backend_unavailable"
