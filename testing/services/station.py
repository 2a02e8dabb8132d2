"""The sampler station: open a tube, bind people to it, seal it.

Every submission carries a client idempotency key. The first answer (success or refusal) is stored
with a fingerprint of the body in the same transaction as the change, so a retry after a dropped
connection gets that answer again and nothing is recorded twice; the same key with another body is
refused. Sample rows carry the sampler and the server time, so they are their own audit trail; tube
opening and sealing write audit rows.
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
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import Actor, audit_record
from common.errors import Conflict, DomainError, NotFound
from people import selectors as people_selectors
from testing import health_port
from testing.models import IdempotentRequest, Round, RoundPhase, Sample, Site, Tube, TubeStatus

# A device clock further than this from the server's is stored and flagged (time zones, dead RTCs).
CLOCK_SKEW_LIMIT = dt.timedelta(minutes=5)
_BARCODE = re.compile(r"^[0-9A-Za-z\-_.]{4,40}$")
_KEY = re.compile(r"^[0-9A-Za-z\-_:]{8,64}$")


def fingerprint(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def idempotent_run(
    *, user: Any, key: str, body: dict[str, Any], now: dt.datetime, action: Callable[[], dict[str, Any]]
) -> tuple[int, dict[str, Any]]:
    """Run ``action`` once per (user, key); return (status, answer), the stored one on a retry."""
    if not key or not _KEY.match(key):
        raise DomainError("idempotency_key_invalid", _("The submission has no valid idempotency key."))
    fp = fingerprint(body)
    try:
        with transaction.atomic():
            stored = IdempotentRequest.objects.filter(user=user, key=key).first()
            if stored is not None:
                return _replay(stored, fp)
            try:
                with transaction.atomic():
                    status, answer = 200, action()
            except DomainError as exc:
                status = exc.status
                answer = {"code": exc.code, "message": str(exc.message), **exc.details}
            IdempotentRequest.objects.create(
                user=user, key=key, fingerprint=fp, status_code=status, response=answer, created_at=now
            )
            return status, answer
    except IntegrityError:
        # The same key raced in from another connection; its transaction won, ours left nothing.
        stored = IdempotentRequest.objects.filter(user=user, key=key).first()
        if stored is None:
            raise
        return _replay(stored, fp)


def _replay(stored: IdempotentRequest, fp: str) -> tuple[int, dict[str, Any]]:
    if stored.fingerprint != fp:
        raise Conflict("idempotency_key_reused", _("This submission key was already used for a different submission."))
    return stored.status_code, dict(stored.response, replayed=True)


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
        with transaction.atomic():
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
        with transaction.atomic():
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


def _resolve_person(rnd: Round, *, code: str, id_number: str, now: dt.datetime) -> tuple[Any, bool]:
    if code:
        try:
            person_id = health_port.person_id_from_sampling_token(code.strip(), now=now)
        except DomainError:
            raise
        found = people_selectors.people_by_ids([person_id]).get(person_id)
        if found is None:
            raise NotFound("person_not_found", _("Nobody is registered with this sampling code."))
        return found, False
    if id_number:
        # Typed numbers resolve only inside the round's territory, so the field cannot probe others.
        person = people_selectors.person_by_id_number_in_scope(id_number, path=rnd.area_path)
        if person is None:
            raise NotFound(
                "person_not_found", _("No resident of this round's territory has this ID number."), field="id_number"
            )
        return person, True
    raise DomainError("person_required", _("Scan a sampling code or type an ID number."))


def sample_register(
    *,
    actor: Actor,
    tube: Tube,
    code: str = "",
    id_number: str = "",
    person: Any = None,
    green_channel: bool = False,
    device_at: dt.datetime | None = None,
    now: dt.datetime,
) -> SampleOutcome:
    # savepoint=False: under idempotent_run the caller's savepoint undoes a refusal; alone it is a transaction.
    with transaction.atomic(savepoint=False):
        # The row lock serialises the stations filling one tube, so the count never overshoots.
        locked = Tube.objects.select_for_update(of=("self",)).select_related("round").get(pk=tube.pk)
        rnd = locked.round
        require_sampling(rnd, now)
        if locked.status != TubeStatus.OPEN:
            raise Conflict("tube_sealed", _("This tube is sealed. Scan a new tube."))
        if locked.member_count >= locked.pool_size:
            raise Conflict(
                "tube_full", _("This tube is full (%(n)s in 1). Seal it and scan a new tube.") % {"n": locked.pool_size}
            )
        by_id = False
        if person is None:
            person, by_id = _resolve_person(rnd, code=code, id_number=id_number, now=now)
        earlier = list(Sample.objects.filter(round=rnd, person_id=person.pk).values_list("tube_id", flat=True))
        if locked.pk in earlier:
            raise Conflict("person_in_tube", _("%(name)s is already in this tube.") % {"name": person.masked_name})
        warnings = []
        if earlier:
            warnings.append(
                {
                    "code": "sampled_twice",
                    "message": _("%(name)s was already sampled in this round.") % {"name": person.masked_name},
                }
            )
        skewed = device_at is not None and abs(device_at - now) > CLOCK_SKEW_LIMIT
        if skewed:
            warnings.append(
                {"code": "clock_skew", "message": _("This device's clock is wrong; the server time is used.")}
            )
        # No savepoint: the tube's row lock serialises every add to this tube, so the check above is final
        # and the unique constraint only guards against code paths that skip it.
        Sample.objects.create(
            tube=locked,
            person_id=person.pk,
            round=rnd,
            site_id=locked.site_id,
            area_path=person.area_path,
            sampled_at=now,
            device_at=device_at,
            is_clock_skewed=skewed,
            is_green_channel=green_channel,
            is_repeat_in_round=bool(earlier),
            by_id_number=by_id,
            sampler=actor.user,
        )
        Tube.objects.filter(pk=locked.pk).update(member_count=F("member_count") + 1)
        health_port.sample_recorded(
            person_id=person.pk, sample_ref=health_port.sample_ref(locked.barcode, person.pk), sampled_at=now, now=now
        )
    return SampleOutcome(
        barcode=locked.barcode,
        count=locked.member_count + 1,
        pool_size=locked.pool_size,
        person_name=person.masked_name,
        sampled_at=now,
        green_channel=green_channel,
        warnings=warnings,
    )


def tube_seal(*, actor: Actor, tube: Tube, now: dt.datetime) -> Tube:
    with transaction.atomic(savepoint=False):
        locked = Tube.objects.select_for_update(of=("self",)).select_related("round", "site").get(pk=tube.pk)
        if locked.status == TubeStatus.SEALED:
            raise Conflict("tube_sealed", _("This tube is already sealed."))
        if locked.member_count == 0:
            raise DomainError("tube_empty", _("An empty tube cannot be sealed."))
        # The tube goes to the site's laboratory, or the round's when the site names none.
        lab_id = (locked.site.laboratory_id if locked.site else None) or locked.round.laboratory_id
        locked.status = TubeStatus.SEALED
        locked.sealed_at = now
        locked.laboratory_id = lab_id
        locked.save(update_fields=["status", "sealed_at", "laboratory"])
        audit_record(
            actor=actor,
            action="testing.tube_seal",
            obj=locked,
            now=now,
            extra={"members": locked.member_count, "laboratory": lab_id},
        )
    return locked
