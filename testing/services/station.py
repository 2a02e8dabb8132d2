"""The sampler station: open a tube, bind people to it, seal it.

Every submission carries a client idempotency key. The first answer (success or refusal) is stored
with a fingerprint of the body in the same transaction as the change, so a retry after a dropped
connection gets that answer again and nothing is recorded twice; the same key with another body is
refused. Sample rows carry the sampler and the server time, so they are their own audit trail; tube
opening and sealing write audit rows.

The common case (a new key) costs no lookup of the key: the change and the key's row are written in
one transaction, and the key's unique constraint turns a reuse into an IntegrityError that undoes the
change, after which the stored answer is read. A refusal undoes whatever the action had written and is
then stored on its own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import Actor, audit_record
from common.errors import Conflict, DomainError, NotFound
from testing import health_port
from testing.models import IdempotentRequest, Round, RoundPhase, Sample, Site, Tube, TubeStatus
from testing.selectors.access import get_site_for_sampler, get_tube_for_sampler
from testing.selectors.sites import tube_view
from testing.selectors.station import person_for_scan

# A device clock further than this from the server's is stored and flagged (time zones, dead RTCs).
CLOCK_SKEW_LIMIT = dt.timedelta(minutes=5)
_BARCODE = re.compile(r"^[0-9A-Za-z\-_.]{4,40}$")
_KEY = re.compile(r"^[0-9A-Za-z\-_:]{8,64}$")


def fingerprint(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def idempotent_run(
    *, user: Any, key: str, body: dict[str, Any], now: dt.datetime, action: Callable[[], dict[str, Any]]
) -> tuple[int, dict[str, Any]]:
    """Run ``action`` once per (user, key); return (status, answer), the stored one on a retry.

    Inside a caller's transaction (the batch endpoint) each run is a savepoint, so one refused or
    replayed submission does not undo the others."""
    if not key or not _KEY.match(key):
        raise DomainError("idempotency_key_invalid", _("The submission has no valid idempotency key."))
    fp = fingerprint(body)
    try:
        with transaction.atomic():
            answer = action()
            _store(user, key, fp, 200, answer, now)
        return 200, answer
    except DomainError as exc:
        status, answer = exc.status, {"code": exc.code, "message": str(exc.message), **exc.details}
    except Exception as exc:
        # A reused key (its row's unique constraint), a key racing in from another connection, or
        # anything else a retry meets (a site no longer staffed): nothing of this run was kept, and the
        # stored answer stands if there is one.
        return _replay(user, key, fp, exc)
    # The refusal is an answer too; if the key has one already (a retry), that one stands.
    try:
        with transaction.atomic():
            _store(user, key, fp, status, answer, now)
    except IntegrityError as exc:
        return _replay(user, key, fp, exc)
    return status, answer


def _store(user: Any, key: str, fp: str, status: int, answer: dict[str, Any], now: dt.datetime) -> None:
    IdempotentRequest.objects.create(
        user=user, key=key, fingerprint=fp, status_code=status, response=answer, created_at=now
    )


def _replay(user: Any, key: str, fp: str, exc: Exception) -> tuple[int, dict[str, Any]]:
    stored = IdempotentRequest.objects.filter(user=user, key=key).first()
    if stored is None:
        raise exc  # a first submission: its own error
    if stored.fingerprint != fp:
        raise Conflict("idempotency_key_reused", _("This submission key was already used for a different submission."))
    return stored.status_code, dict(stored.response, replayed=True)


def station_submit(*, actor: Actor, item: dict[str, Any], now: dt.datetime) -> tuple[int, dict[str, Any]]:
    """One station submission (kind open, sample or seal, with its key, site_id, barcode, code, id_number,
    green_channel and device_at) answered as (status, answer): idempotent, a refusal with its code and
    message, a site or tube outside the sampler's sites 404 like a barcode never seen."""
    user = actor.user
    body = {k: v for k, v in item.items() if k != "key"}

    def action() -> dict[str, Any]:
        if item["kind"] == "open":
            if item["site_id"] is None:
                raise DomainError("site_required", "site_id is required")
            site = get_site_for_sampler(user, item["site_id"])
            return tube_view(tube_open(actor=actor, site=site, barcode=item["barcode"], now=now))
        # Found, checked and locked in one statement; the services then skip their own lock.
        tube = get_tube_for_sampler(user, item["barcode"], lock=True)
        if item["kind"] == "seal":
            return tube_view(tube_seal(actor=actor, tube=tube, now=now, locked=True))
        return sample_register(
            actor=actor,
            tube=tube,
            code=item["code"],
            id_number=item["id_number"],
            green_channel=item["green_channel"],
            device_at=item["device_at"],
            locked=True,
            now=now,
        ).as_dict()

    try:
        return idempotent_run(user=user, key=item["key"], body=body, now=now, action=action)
    except DomainError as exc:
        return exc.status, {"code": exc.code, "message": str(exc.message)}
    except Http404:
        return not_found_answer()


def not_found_answer() -> tuple[int, dict[str, Any]]:
    """A site or tube outside the sampler's sites: the same answer as a barcode never seen, not stored."""
    return 404, {"code": "not_found", "message": "Not found."}


def clean_barcode(raw: str) -> str:
    value = (raw or "").strip()
    if not _BARCODE.match(value):
        raise DomainError("barcode_invalid", _("This is not a tube barcode."), field="barcode")
    return value


def require_sampling(rnd: Round, now: dt.datetime) -> None:
    """A round takes samples from its start until it is closed; tubes filled before the close may
    still be sealed and sent to the laboratory."""
    phase = rnd.phase(now)
    if phase == RoundPhase.CLOSED:
        raise Conflict("round_closed", _("This round is closed and takes no new samples."))
    if phase == RoundPhase.SCHEDULED:
        raise Conflict(
            "round_not_started",
            _("This round starts at %(at)s and takes no samples before then.")
            % {"at": timezone.localtime(rnd.starts_at).strftime("%m-%d %H:%M")},
        )


def tube_open(*, actor: Actor, site: Site, barcode: str, now: dt.datetime) -> Tube:
    barcode = clean_barcode(barcode)
    rnd: Round = site.round
    require_sampling(rnd, now)
    try:
        # No savepoint: a used barcode refuses the whole submission, and the caller's transaction (or
        # this one) is undone with it.
        with transaction.atomic(savepoint=False):
            tube = Tube.objects.create(
                barcode=barcode, round=rnd, site=site, pool_size=rnd.pool_size, opened_by=actor.user, opened_at=now
            )
            audit_record(actor=actor, action="testing.tube_open", obj=tube, now=now)
    except IntegrityError:
        raise Conflict(
            "tube_used", _("This tube barcode has been used already. Take a new tube."), field="barcode"
        ) from None
    return tube


def tube_open_home(*, actor: Actor, rnd: Round, barcode: str, now: dt.datetime) -> Tube:
    """A tube opened by a home-sampling team: no site, the round's laboratory."""
    barcode = clean_barcode(barcode)
    require_sampling(rnd, now)
    try:
        with transaction.atomic(savepoint=False):
            tube = Tube.objects.create(
                barcode=barcode,
                round=rnd,
                site=None,
                pool_size=rnd.pool_size,
                opened_by=actor.user,
                opened_at=now,
                is_home_sampling=True,
            )
            audit_record(actor=actor, action="testing.tube_open", obj=tube, now=now, extra={"home": True})
    except IntegrityError:
        raise Conflict(
            "tube_used", _("This tube barcode has been used already. Take a new tube."), field="barcode"
        ) from None
    return tube


@dataclass
class SampleOutcome:
    barcode: str
    count: int
    pool_size: int
    person_name: str
    sampled_at: dt.datetime
    green_channel: bool
    warnings: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "barcode": self.barcode,
            "count": self.count,
            "pool_size": self.pool_size,
            "person": self.person_name,
            "sampled_at": self.sampled_at.isoformat(),
            "green_channel": self.green_channel,
            "warnings": self.warnings,
        }


def _resolve_person(rnd: Round, tube: Tube, *, code: str, id_number: str, person: Any, now: dt.datetime) -> Any:
    if person is not None:
        found = person_for_scan(rnd, tube.pk, person_id=person.pk)
    elif code:
        person_id = health_port.person_id_from_sampling_token(code.strip(), now=now)
        found = person_for_scan(rnd, tube.pk, person_id=person_id)
        if found is None:
            raise NotFound("person_not_found", _("Nobody is registered with this sampling code."))
    elif id_number:
        found = person_for_scan(rnd, tube.pk, id_number=id_number)
        if found is None:
            raise NotFound(
                "person_not_found", _("No resident of this round's territory has this ID number."), field="id_number"
            )
    else:
        raise DomainError("person_required", _("Scan a sampling code or type an ID number."))
    return found


def sample_register(
    *,
    actor: Actor,
    tube: Tube,
    code: str = "",
    id_number: str = "",
    person: Any = None,
    green_channel: bool = False,
    device_at: dt.datetime | None = None,
    locked: bool = False,
    now: dt.datetime,
) -> SampleOutcome:
    """Bind a person (by sampling code, typed ID number, or given) to an open tube.

    ``locked``: the caller fetched ``tube`` (with its round) by ``select_for_update`` in the current
    transaction, as the station API does through ``get_tube_for_sampler(lock=True)``; otherwise the row
    is locked here. A pre-registration asking for the green channel marks the sample as such."""
    # savepoint=False: a refusal undoes the caller's transaction, or this one when there is none.
    with transaction.atomic(savepoint=False):
        # The row lock serialises the stations filling one tube, so the count never overshoots.
        if not locked:
            tube = Tube.objects.select_for_update(of=("self",)).select_related("round").get(pk=tube.pk)
        rnd = tube.round
        require_sampling(rnd, now)
        if tube.status != TubeStatus.OPEN:
            raise Conflict("tube_sealed", _("This tube is sealed. Scan a new tube."))
        if tube.member_count >= tube.pool_size:
            raise Conflict(
                "tube_full", _("This tube is full (%(n)s in 1). Seal it and scan a new tube.") % {"n": tube.pool_size}
            )
        found = _resolve_person(rnd, tube, code=code, id_number=id_number, person=person, now=now)
        if found.is_in_tube:
            raise Conflict("person_in_tube", _("%(name)s is already in this tube.") % {"name": found.masked_name})
        warnings = []
        if found.is_in_round:
            warnings.append(
                {
                    "code": "sampled_twice",
                    "message": _("%(name)s was already sampled in this round.") % {"name": found.masked_name},
                }
            )
        skewed = device_at is not None and abs(device_at - now) > CLOCK_SKEW_LIMIT
        if skewed:
            warnings.append(
                {"code": "clock_skew", "message": _("This device's clock is wrong; the server time is used.")}
            )
        green_channel = green_channel or found.wants_green_channel
        # No savepoint: the tube's row lock serialises every add to this tube, so the check above is final
        # and the unique constraint only guards against code paths that skip it.
        Sample.objects.create(
            tube=tube,
            person_id=found.pk,
            round=rnd,
            site_id=tube.site_id,
            area_path=found.area_path,
            sampled_at=now,
            device_at=device_at,
            is_clock_skewed=skewed,
            is_green_channel=green_channel,
            is_repeat_in_round=found.is_in_round,
            by_id_number=not code and not person and bool(id_number),
            sampler=actor.user,
        )
        Tube.objects.filter(pk=tube.pk).update(member_count=F("member_count") + 1)
        health_port.sample_recorded(
            person_id=found.pk, sample_ref=health_port.sample_ref(tube.barcode, found.pk), sampled_at=now, now=now
        )
    return SampleOutcome(
        barcode=tube.barcode,
        count=tube.member_count + 1,
        pool_size=tube.pool_size,
        person_name=found.masked_name,
        sampled_at=now,
        green_channel=green_channel,
        warnings=warnings,
    )


def tube_seal(*, actor: Actor, tube: Tube, now: dt.datetime, locked: bool = False) -> Tube:
    """Seal a tube and route it to its laboratory. Allowed after the round closed: a tube filled before
    the close still goes to the laboratory. ``locked`` as in ``sample_register`` (with round and site)."""
    with transaction.atomic(savepoint=False):
        if not locked:
            tube = Tube.objects.select_for_update(of=("self",)).select_related("round", "site").get(pk=tube.pk)
        if tube.status == TubeStatus.SEALED:
            raise Conflict("tube_sealed", _("This tube is already sealed."))
        if tube.member_count == 0:
            raise DomainError("tube_empty", _("An empty tube cannot be sealed."))
        # The tube goes to the site's laboratory, or the round's when the site names none.
        lab_id = (tube.site.laboratory_id if tube.site else None) or tube.round.laboratory_id
        tube.status = TubeStatus.SEALED
        tube.sealed_at = now
        tube.laboratory_id = lab_id
        tube.save(update_fields=["status", "sealed_at", "laboratory"])
        audit_record(
            actor=actor,
            action="testing.tube_seal",
            obj=tube,
            now=now,
            extra={"members": tube.member_count, "laboratory": lab_id},
        )
    return tube
