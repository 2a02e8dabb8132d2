"""Reads of health status. The verification path reads the denormalised row (or the cache) and never
recomputes; recency is derived from the stored sampling times and the ``now`` passed in."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from common import tokens
from common.db import prepared_cursor
from common.errors import DomainError
from common.masking import mask_name
from health.models import (
    ChangeRequest,
    ChangeState,
    HealthStatus,
    ManualReason,
    ReasonCode,
    RecomputeJob,
    RuleVersion,
    StatusHistory,
)
from health.rules import Rules

HEALTH_TOKEN = "health-code"  # noqa: S105 - a signing purpose, not a secret
SAMPLING_TOKEN = "sampling-code"  # noqa: S105
_CACHE_PREFIX = "health:st:"

# The denormalised row joined to the two person fields a verification shows; one indexed lookup.
_FIELDS = (
    "id",
    "name",
    "vaccine_doses",
    "health_status__colour",
    "health_status__reason_code",
    "health_status__since",
    "health_status__latest_sampled_at",
    "health_status__latest_result",
    "health_status__latest_negative_sampled_at",
    "health_status__rule_version",
    "health_status__evidence",
)


@dataclass(frozen=True)
class StatusView:
    person_id: int
    colour: str  # "green" | "yellow" | "red"
    reason_code: str  # "default_green", "positive_single", "pool_recheck", "companion", "manual"
    reason: str  # translated, human readable
    since: dt.datetime
    latest_sampled_at: dt.datetime | None  # sampling time of the latest sample (any result)
    latest_result: str | None  # "negative" | "positive" | "invalid" | "pending" | None
    hours_since_negative: float | None  # hours since the latest NEGATIVE sampling time
    badge: str  # "48h" | "72h" | "over72h" | "pending" | "none"
    vaccine_doses: int
    # Additions beyond the published interface:
    masked_name: str = ""
    rule_version: int = 1
    evidence: str = ""
    is_overdue: bool = False  # the policy's overdue-test marker; never changes the colour
    latest_negative_sampled_at: dt.datetime | None = None


def settings_policy(name: str) -> Any:
    return settings.FANGYI.get(name, _DEFAULTS[name])


_DEFAULTS: dict[str, Any] = {
    "HEALTH_CODE_TTL_SECONDS": 60,
    "SAMPLING_CODE_TTL_DAYS": 30,
    "STATUS_BULK_APPROVAL_THRESHOLD": 20,
    "STATUS_CACHE_SECONDS": None,
    "HEALTH_CODE_REFRESH_SECONDS": 20,
}


_REASON_TEXTS = {
    ReasonCode.DEFAULT_GREEN: gettext_lazy("No risk evidence"),
    ReasonCode.POSITIVE_SINGLE: gettext_lazy("Positive single-tube result"),
    ReasonCode.POOL_RECHECK: gettext_lazy("Positive pool, awaiting single-tube recheck"),
    ReasonCode.COMPANION: gettext_lazy("Space-time companion, awaiting clearance tests"),
    ReasonCode.MANUAL: gettext_lazy("Decision by an epidemiologist"),
}


def reason_text(reason_code: str) -> str:
    # Lazy texts, so a verification translates only the one it shows.
    return str(_REASON_TEXTS.get(reason_code, reason_code))  # type: ignore[call-overload]


def clears_text(reason_code: str, rules: Rules) -> str:
    """What clears the status: shown to the person beside the reason."""
    if reason_code == ReasonCode.POSITIVE_SINGLE:
        return _("The CDC releases you after treatment; your epidemiologist records the decision.")
    if reason_code == ReasonCode.POOL_RECHECK:
        return _("A single-tube recheck: go to a sampling site; a negative result clears it at once.")
    if reason_code == ReasonCode.COMPANION:
        return _(
            "%(n)d negative tests at least %(gap)d hours apart within %(window)d hours; it then clears by itself."
        ) % {
            "n": rules.companion_clear_tests,
            "gap": rules.companion_clear_gap_hours,
            "window": rules.companion_clear_window_hours,
        }
    if reason_code == ReasonCode.MANUAL:
        return _("A new decision by an epidemiologist, or new evidence.")
    return _("Nothing to clear.")


def manual_reason_text(code: str) -> str:
    return str(dict(ManualReason.choices).get(code, code))


# --- rules ------------------------------------------------------------------------------------


def current_rules() -> Rules:
    """The rule version in force (cached briefly; a rule edit clears the cache)."""
    cached = cache.get("health:rules")
    if cached is not None:
        return Rules(**cached)
    row = RuleVersion.objects.order_by("-version").first()
    rules = Rules() if row is None else rules_from_row(row)
    cache.set("health:rules", rules.__dict__, 30)
    return rules


def rules_from_row(row: RuleVersion) -> Rules:
    return Rules(
        version=row.version,
        positive_single_colour=row.positive_single_colour,
        pool_recheck_colour=row.pool_recheck_colour,
        companion_colour=row.companion_colour,
        companion_clear_tests=row.companion_clear_tests,
        companion_clear_gap_hours=row.companion_clear_gap_hours,
        companion_clear_window_hours=row.companion_clear_window_hours,
        overdue_hours=row.overdue_hours,
    )


def rule_versions() -> QuerySet[RuleVersion]:
    return RuleVersion.objects.select_related("created_by").order_by("-version")


# --- the status read path ---------------------------------------------------------------------


def cache_seconds() -> float:
    configured = settings_policy("STATUS_CACHE_SECONDS")
    if configured is not None:
        return float(configured)
    # A per-process cache cannot be invalidated from another worker: keep its life under the
    # one-second visibility goal. A shared cache (Redis) is invalidated on change and may keep longer.
    backend = str(settings.CACHES["default"]["BACKEND"])
    return 1.0 if backend.endswith("LocMemCache") else 300.0


def cache_key(person_id: int) -> str:
    return f"{_CACHE_PREFIX}{person_id}"


_load_sql: str | None = None


def _load_statement() -> str:
    """The verification read as a prepared statement: the ORM's compile of the same join cost more
    than the lookup itself. Column order is ``_FIELDS``; one ``%s`` stands for the id list."""
    global _load_sql
    if _load_sql is None:
        from people.models import Person  # the ForeignKey target: joined, never written

        quote = connection.ops.quote_name
        columns = []
        for name in _FIELDS:
            if name.startswith("health_status__"):
                field = HealthStatus._meta.get_field(name.removeprefix("health_status__"))
                columns.append(f"h.{quote(str(field.column))}")  # type: ignore[union-attr]
            else:
                columns.append(f"p.{quote(str(Person._meta.get_field(name).column))}")  # type: ignore[union-attr]
        _load_sql = (
            f"SELECT {', '.join(columns)} FROM {quote(Person._meta.db_table)} p "  # noqa: S608 - our identifiers
            f"LEFT JOIN {quote(HealthStatus._meta.db_table)} h ON h.person_id = p.id WHERE p.id IN (%s)"
        )
    return _load_sql


# Positions of the datetime columns in a row of ``_FIELDS``: SQLite hands them back as text.
_DATETIMES = tuple(i for i, name in enumerate(_FIELDS) if name.endswith(("since", "_at")))


def as_aware(value: Any) -> Any:
    """A datetime read by raw SQL as Django would convert it: SQLite hands back naive UTC (or text)."""
    if value is None or isinstance(value, dt.datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=dt.UTC)
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _load(person_ids: list[int]) -> dict[int, tuple[Any, ...]]:
    out: dict[int, tuple[Any, ...]] = {}
    with prepared_cursor() as cur:  # every verification and check-in runs it
        for i in range(0, len(person_ids), 500):
            ids = [int(p) for p in person_ids[i : i + 500]]
            cur.execute(_load_statement().replace("%s", ", ".join(["%s"] * len(ids))), ids)
            for row in cur.fetchall():
                values = list(row)
                for j in _DATETIMES:
                    values[j] = as_aware(values[j])
                out[values[0]] = tuple(values)
    return out


def _view(row: tuple[Any, ...], *, now: dt.datetime, rules: Rules) -> StatusView:
    (pid, name, doses, colour, reason_code, since, latest_at, latest_result, latest_neg, version, evidence) = row
    if colour is None:  # no status row yet: nothing has ever been recorded for this person
        colour, reason_code, since, version, evidence = "green", "default_green", None, rules.version, ""
    hours = None if latest_neg is None else (now - latest_neg).total_seconds() / 3600
    if latest_result == "pending":
        badge = "pending"
    elif hours is None:
        badge = "none"
    elif hours <= 48:
        badge = "48h"
    elif hours <= 72:
        badge = "72h"
    else:
        badge = "over72h"
    overdue = rules.overdue_hours is not None and (hours is None or hours > rules.overdue_hours)
    return StatusView(
        person_id=pid,
        colour=colour,
        reason_code=reason_code,
        reason=reason_text(reason_code),
        since=since or now,
        latest_sampled_at=latest_at,
        latest_result=latest_result or None,
        hours_since_negative=hours,
        badge=badge,
        vaccine_doses=doses,
        masked_name=mask_name(name),
        rule_version=version,
        evidence=evidence or "",
        is_overdue=overdue,
        latest_negative_sampled_at=latest_neg,
    )


def status_view(person_id: int, *, now: dt.datetime) -> StatusView:
    """The current status of a person, from the cache or one indexed lookup. Never recomputes.
    NotFound if there is no such person."""
    key = cache_key(person_id)
    row = cache.get(key)
    if row is None:
        row = _load([person_id]).get(person_id)
        if row is None:
            raise DomainError("person_not_found", _("No such person."), status=404)
        cache.set(key, row, cache_seconds())
    return _view(row, now=now, rules=current_rules())


def status_views(person_ids: list[int], *, now: dt.datetime) -> dict[int, StatusView]:
    """Bulk form: one cache round trip and at most one query, whatever the number of people."""
    ids = list(dict.fromkeys(int(p) for p in person_ids))
    found = cache.get_many([cache_key(p) for p in ids])
    rows = {int(k[len(_CACHE_PREFIX) :]): v for k, v in found.items()}
    missing = [p for p in ids if p not in rows]
    if missing:
        loaded = _load(missing)
        cache.set_many({cache_key(p): r for p, r in loaded.items()}, cache_seconds())
        rows.update(loaded)
    rules = current_rules()
    return {p: _view(rows[p], now=now, rules=rules) for p in ids if p in rows}


def negative_within(person_id: int, *, hours: int, now: dt.datetime) -> bool:
    """Whether the person's latest negative sampling is within ``hours`` of ``now`` (inclusive)."""
    view = status_view(person_id, now=now)
    neg = view.latest_negative_sampled_at
    return neg is not None and neg <= now and now - neg <= dt.timedelta(hours=hours)


def invalidate(person_ids: list[int]) -> None:
    cache.delete_many([cache_key(p) for p in person_ids])


# --- tokens -----------------------------------------------------------------------------------


def _read(purpose: str, token: str, now: dt.datetime) -> int:
    try:
        return tokens.read_token(purpose, (token or "").strip(), now_ts=now.timestamp())
    except tokens.TokenExpired as exc:
        raise DomainError("token_expired", _("This code has expired. Ask for a fresh one.")) from exc
    except tokens.TokenInvalid as exc:
        raise DomainError("token_invalid", _("This code is not valid.")) from exc


def person_id_from_health_token(token: str, *, now: dt.datetime) -> int:
    return _read(HEALTH_TOKEN, token, now)


def person_id_from_sampling_token(token: str, *, now: dt.datetime) -> int:
    return _read(SAMPLING_TOKEN, token, now)


def health_token_for(person_id: int, *, now: dt.datetime) -> tuple[str, dt.datetime]:
    """A fresh health-code token and its expiry. Signing is not a write, so it lives with the reads."""
    expires = now + dt.timedelta(seconds=int(settings_policy("HEALTH_CODE_TTL_SECONDS")))
    return tokens.make_token(HEALTH_TOKEN, person_id, expires_at=int(expires.timestamp())), expires


def sampling_token_for(person_id: int, *, now: dt.datetime) -> tuple[str, dt.datetime]:
    expires = now + dt.timedelta(days=int(settings_policy("SAMPLING_CODE_TTL_DAYS")))
    return tokens.make_token(SAMPLING_TOKEN, person_id, expires_at=int(expires.timestamp())), expires


# --- history and change requests --------------------------------------------------------------


def history_for_person(person_id: int, *, limit: int = 100) -> list[StatusHistory]:
    return list(StatusHistory.objects.filter(person_id=person_id).order_by("-at", "-id")[:limit])


def change_requests(*, states: list[str] | None = None) -> QuerySet[ChangeRequest]:
    qs = ChangeRequest.objects.select_related("requested_by", "approved_by")
    if states:
        qs = qs.filter(state__in=states)
    return qs.order_by("-requested_at", "-id")


def pending_approvals() -> QuerySet[ChangeRequest]:
    return change_requests(states=[ChangeState.AWAITING_APPROVAL, ChangeState.RUNNING, ChangeState.PAUSED])


def latest_recompute_job() -> RecomputeJob | None:
    return RecomputeJob.objects.order_by("-started_at", "-id").first()


def person_ids_by_id_numbers(id_numbers: list[str]) -> tuple[dict[str, int], list[str]]:
    """Map normalised ID numbers to person ids; the second list holds numbers that match nobody."""
    from common import idnumber
    from people.models import Person

    normal = [idnumber.normalize(n) for n in id_numbers if n.strip()]
    found = dict(Person.objects.filter(id_number__in=normal).values_list("id_number", "id"))
    return found, [n for n in normal if n not in found]


def person_id_by_id_number(value: str) -> int | None:
    found, _missing = person_ids_by_id_numbers([value])
    return next(iter(found.values()), None)


def population_count() -> int:
    from people.models import Person

    return Person.objects.count()
