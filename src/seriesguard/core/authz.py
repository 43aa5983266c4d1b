"""Who may do what: the seed's four roles, the permissions each grants, and the caller.

Pure: the API maps every route to one :class:`Permission` and asks :meth:`Principal.can`.
Roles are cumulative, as in the seed's AuthorizationPolicy (each role can do what the one
before it can, and more).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    DATA_SCIENTIST = "data_scientist"
    ML_ENGINEER = "ml_engineer"
    ADMIN = "admin"


class Permission(StrEnum):
    """One per kind of route. ``PUBLIC`` routes (probes) need no token at all."""

    PUBLIC = "public"
    PREDICT = "predict"
    READ = "read"
    READ_DATA = "read_data"
    FEEDBACK = "feedback"
    TRAIN = "train"
    CANCEL_OWN_JOB = "cancel_own_job"
    CANCEL_ANY_JOB = "cancel_any_job"
    PROMOTE = "promote"
    ROLLBACK = "rollback"
    RELOAD = "reload"
    ADMIN = "admin"


_VIEWER = frozenset({Permission.PREDICT, Permission.READ})
# Plots render a series' training data: raw sensor values, which the seed's matrix gives
# to data scientists and up, not to every holder of a read token.
# Ground truth moves every precision/recall figure and the precision-drop verdict: it is
# sent by those who may train, not by every reader.
_DATA_SCIENTIST = _VIEWER | {
    Permission.TRAIN,
    Permission.CANCEL_OWN_JOB,
    Permission.READ_DATA,
    Permission.FEEDBACK,
}
_ML_ENGINEER = _DATA_SCIENTIST | {
    Permission.PROMOTE,
    Permission.ROLLBACK,
    Permission.RELOAD,
    Permission.CANCEL_ANY_JOB,
}

GRANTS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: _VIEWER,
    Role.DATA_SCIENTIST: _DATA_SCIENTIST,
    Role.ML_ENGINEER: _ML_ENGINEER,
    Role.ADMIN: frozenset(Permission),
}


def permissions_of(roles: Iterable[str]) -> frozenset[Permission]:
    """Everything the named roles grant together; names that are not a role grant nothing."""
    granted: set[Permission] = {Permission.PUBLIC}
    for name in roles:
        if name in Role.__members__.values():
            granted |= GRANTS[Role(name)]
    return frozenset(granted)


def weakest_role_with(permission: Permission) -> Role | None:
    """The first role (in seed order) that grants ``permission``; None for public routes."""
    if permission is Permission.PUBLIC:
        return None
    return next(role for role in Role if permission in GRANTS[role])


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller, as a verified token describes it (or the local operator without auth)."""

    subject: str
    roles: frozenset[str]
    expires_at: float | None = None
    authenticated: bool = True
    # Worked out once: the fast predict path asks on every request.
    permissions: frozenset[Permission] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "permissions", permissions_of(self.roles))

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions


# Without authentication the server only listens on loopback (the settings refuse anything
# else), so whoever reaches it is the machine's own operator: every permission.
LOCAL_OPERATOR = Principal(
    subject="local", roles=frozenset({Role.ADMIN.value}), authenticated=False
)
