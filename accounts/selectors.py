"""The access helper: what part of the territory a user may act on, for a given capability.

Every scoped list, detail, search, export and API query goes through ``scope_for``; a row outside
the scope is answered with 404, never 403, so its existence is not disclosed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from accounts.models import Membership, User
from accounts.roles import CAPABILITIES, Cap, Role
from territory.selectors import is_within, subtree_q


@dataclass(frozen=True)
class Scope:
    """A set of subtrees, none inside another."""

    paths: tuple[str, ...]

    @property
    def is_empty(self) -> bool:
        return not self.paths

    def q(self, field: str = "area_path") -> Q:
        if not self.paths:
            return Q(pk__in=[])
        q = Q()
        for path in self.paths:
            q |= subtree_q(path, field)
        return q

    def contains(self, path: str | None) -> bool:
        return bool(path) and any(is_within(path or "", p) for p in self.paths)


def _minimal(paths: set[str]) -> tuple[str, ...]:
    kept: list[str] = []
    for p in sorted(paths, key=len):
        if not any(p.startswith(k) for k in kept):
            kept.append(p)
    return tuple(sorted(kept))


def memberships_of(user: Any) -> list[tuple[str, str, int, str]]:
    """(role, area path, area id, area name) of the user's memberships, memoised on the user object."""
    cached = getattr(user, "_fangyi_memberships", None)
    if cached is None:
        cached = [
            (m.role, m.area.path, m.area_id, m.area.name)
            for m in Membership.objects.filter(user_id=user.pk).select_related("area").order_by("id")
        ]
        user._fangyi_memberships = cached
    return cached


def scope_for(user: Any, cap: Cap) -> Scope:
    if user is None or not user.is_authenticated or not user.is_active:
        return Scope(())
    paths = {path for role, path, _id, _name in memberships_of(user) if cap in CAPABILITIES.get(role, ())}
    return Scope(_minimal(paths))


def roles_of(user: Any) -> set[str]:
    if user is None or not user.is_authenticated:
        return set()
    return {role for role, _p, _i, _n in memberships_of(user)}


def has_cap(user: Any, cap: Cap) -> bool:
    return not scope_for(user, cap).is_empty


def user_by_phone(phone: str) -> User | None:
    return User.objects.filter(phone=phone, is_active=True).first()


def users_with_role(role: Role) -> list[User]:
    return list(User.objects.filter(memberships__role=role).distinct().order_by("username"))


def role_holders_on_paths(role: Role, paths: set[str]) -> dict[str, str]:
    """{area path: display name} of users holding ``role`` on exactly those nodes (one query)."""
    out: dict[str, str] = {}
    for path, display, username in (
        Membership.objects.filter(role=role, area__path__in=paths)
        .order_by("id")
        .values_list("area__path", "user__display_name", "user__username")
    ):
        out.setdefault(path, display or username)
    return out
