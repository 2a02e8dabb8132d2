"""The station's batch path, set-based: N submissions in a constant number of statements.

A busy station and the station page's offline queue send scans in batches (a tube's scans and its seal,
or several tubes). ``station_batch`` answers every submission exactly as ``station_submit`` would have
answered it, one after the other in the batch's order, with the same codes, messages and idempotency,
but reads and writes for the whole batch at once:

1. the stored answers of the batch's keys; the tubes its barcodes name (found, access-checked and locked
   in id order); the sites it opens tubes at; the people its codes and ID numbers name, with their
   samples in the rounds involved and their green-channel pre-registrations (one statement each);
2. every submission checked in Python, in order, against that state and what the earlier submissions of
   the batch did to it (a tube opened, filled or sealed; a person added to a tube or to the round; a key
   answered), by the same rules and in the same order of checks as ``sample_register``, ``tube_open``,
   ``tube_seal`` and ``idempotent_run``;
3. the new tubes, samples, count and seal updates, audit rows and idempotency rows written with one
   multi-row statement each, and the health app told with one ``samples_recorded`` call.

The tube row locks serialise this with every other writer of those tubes. What a lock cannot cover (a
barcode, a key or a person-in-tube pair inserted by another connection after step 1) ends in a unique
constraint: the batch's writes are then undone and it runs again through ``station_submit`` one
submission at a time, which settles such races one submission at a time as before.

A lone scan or seal on PostgreSQL (eleven of a tube's twelve requests at a live station) takes a
shorter way with the same checks: ``_lone``, one read and one write without a transaction, the write a
compare-and-set on the tube; whenever that does not settle it, nothing is written and this path
answers.
"""

from __future__ import annotations

import datetime as dt
import json
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext as _

from accounts.roles import Cap
from accounts.selectors import scope_for
from audit.services import Actor, audit_append_from, audit_append_many
from common import idnumber
from common.errors import Conflict, DomainError, NotFound
from common.masking import mask_name
from territory.selectors import path_range
from testing import health_port
from testing.models import Round, Tube, TubeStatus
from testing.selectors import home_tube_is_teams
from testing.services import station_sql as sql
from testing.services.station import (
    _KEY,
    CLOCK_SKEW_LIMIT,
    SampleOutcome,
    clean_barcode,
    fingerprint,
    not_found_answer,
    require_sampling,
    station_submit,
)


class _Unreachable(Exception):
    """A site or tube outside the sampler's sites: answered 404 and not stored, as ``station_submit``."""


@dataclass
class _Tube:
    pk: int | None  # None until inserted (opened in this batch)
    barcode: str
    rnd: Round
    site_id: int | None
    site_laboratory_id: int | None
    pool_size: int
    member_count: int
    status: str
    reachable: bool
    laboratory_id: int | None = None
    sealed_at: dt.datetime | None = None
    is_new: bool = False
    is_changed: bool = False


@dataclass
class _Person:
    pk: int
    name: str
    area_path: str
    id_number: str
    rounds: set[int] = field(default_factory=set)  # rounds with a sample of theirs
    tubes: set[str] = field(default_factory=set)  # barcodes of the tubes holding them
    green_rounds: set[int] = field(default_factory=set)  # pre-registered for the green channel


@dataclass
class _State:
    actor: Actor
    now: dt.datetime
    keys: dict[str, tuple[str, int, dict[str, Any]]]  # key -> fingerprint, status, answer
    tubes: dict[str, _Tube]
    sites: dict[int, sql.SiteFacts]
    people: dict[int, _Person]
    by_id_number: dict[str, _Person]
    tokens: dict[str, int | DomainError]
    keys_read: bool = True
    new_keys: list[tuple[str, str, int, dict[str, Any]]] = field(default_factory=list)
    samples: list[tuple[_Tube, _Person, dict[str, Any]]] = field(default_factory=list)
    audits: list[tuple[str, _Tube, dict[str, Any]]] = field(default_factory=list)


def station_batch(*, actor: Actor, items: list[dict[str, Any]], now: dt.datetime) -> list[tuple[int, dict[str, Any]]]:
    """(status, answer) for every submission of ``items`` (dicts with the fields of a station submission:
    kind, key, site_id, barcode, code, id_number, green_channel, device_at), as ``station_submit`` would
    answer them in order, in one transaction (a lone scan or seal on PostgreSQL: ``_lone``)."""
    try:
        if len(items) == 1 and items[0]["kind"] != "open" and connection.vendor == "postgresql":
            answer = _lone(actor, items[0], now)
            if answer is not None:
                return [answer]
        with transaction.atomic():
            # A lone submission (a single endpoint's) does not read its key first: a new key is the common
            # case, and a reused one ends in the key row's unique constraint below, like a race, unless
            # the submission is not stored at all (a 404; ``_answer`` reads the key then).
            state = _read(actor, items, now, read_keys=len(items) > 1)
            answers = [_answer(state, item) for item in items]
            _write(state)
        return answers
    except IntegrityError:
        # Another connection wrote a barcode, key or tube member this batch had not seen, or a lone
        # submission's key was used before: undo it all and let the one-at-a-time path settle each
        # submission (and answer a retry from its stored answer).
        with transaction.atomic():
            return [station_submit(actor=actor, item=item, now=now) for item in items]


# --- step 1: everything the batch needs, read at once ---------------------------------------------


def _read(actor: Actor, items: list[dict[str, Any]], now: dt.datetime, *, read_keys: bool) -> _State:
    user = actor.user
    keys = sorted({item["key"] for item in items if item["key"] and _KEY.match(item["key"])})
    stored = sql.stored_answers(user.pk, keys) if keys and read_keys else {}
    may_sample = not scope_for(user, Cap.TESTING_SAMPLE).is_empty
    rounds: dict[int, Round] = {}
    site_ids = sorted({int(item["site_id"]) for item in items if item["kind"] == "open" and item["site_id"]})
    sites = sql.staffed_sites(user.pk, site_ids, rounds) if site_ids and may_sample else {}
    barcodes = sorted({(item["barcode"] or "").strip() for item in items} - {""})
    tubes = _tubes(user, barcodes, rounds, may_sample=may_sample) if barcodes else {}
    tokens: dict[str, int | DomainError] = {}
    id_numbers: set[str] = set()
    for item in items:
        if item["kind"] == "sample":
            _who(item, now, tokens, id_numbers)
    person_ids = {pid for pid in tokens.values() if isinstance(pid, int)}
    people = _people(sorted(person_ids), sorted(id_numbers), sorted(rounds), tubes) if person_ids or id_numbers else {}
    return _State(
        actor=actor,
        now=now,
        keys=stored,
        tubes=tubes,
        sites=sites,
        people=people,
        by_id_number={p.id_number: p for p in people.values()},
        tokens=tokens,
        keys_read=read_keys,
    )


def _who(item: dict[str, Any], now: dt.datetime, tokens: dict[str, int | DomainError], id_numbers: set[str]) -> None:
    """A scan's person: its sampling code read into ``tokens`` (the person's id, or why the code is
    refused), or its typed ID number, when complete, added to ``id_numbers``."""
    if item["code"]:
        raw = item["code"].strip()
        if raw not in tokens:
            try:
                tokens[raw] = health_port.person_id_from_sampling_token(raw, now=now)
            except DomainError as exc:
                tokens[raw] = exc
    elif item["id_number"]:
        value = idnumber.normalize(item["id_number"])
        if len(value) == 18:
            id_numbers.add(value)


def _tubes(user: Any, barcodes: list[str], rounds: dict[int, Round], *, may_sample: bool) -> dict[str, _Tube]:
    """The named tubes, locked in id order (two batches over the same tubes wait, never deadlock)."""
    return {t.barcode: _tube(user, t, may_sample=may_sample) for t in sql.locked_tubes(user.pk, barcodes, rounds)}


def _tube(user: Any, t: sql.TubeRow, *, may_sample: bool) -> _Tube:
    """A tube as read, with whether this sampler may use it, as ``get_tube_for_sampler`` decides."""
    if t.site_id is not None:
        reachable = t.is_staffed and may_sample
    else:  # a home tube (no site): rare at a station, one query each
        reachable = home_tube_is_teams(user, Tube(id=t.pk, round_id=t.rnd.pk, opened_by_id=t.opened_by_id))
    return _Tube(
        pk=t.pk,
        barcode=t.barcode,
        rnd=t.rnd,
        site_id=t.site_id,
        site_laboratory_id=t.site_laboratory_id,
        pool_size=t.pool_size,
        member_count=t.member_count,
        status=t.status,
        reachable=reachable,
        laboratory_id=t.laboratory_id,
        sealed_at=t.sealed_at,
    )


def _people(
    person_ids: list[int], id_numbers: list[str], rounds: list[int], tubes: dict[str, _Tube]
) -> dict[int, _Person]:
    """The people named by codes (anyone) or typed ID numbers (their territory is checked per round when
    the submission is answered), with their samples in the batch's rounds and their green-channel
    pre-registrations, in one statement."""
    return _people_of(sql.people_rows(person_ids, id_numbers, rounds), tubes)


def _people_of(rows: list[tuple[Any, ...]], tubes: dict[str, _Tube]) -> dict[int, _Person]:
    """The people of ``station_sql.people_rows``' rows."""
    barcode_of = {t.pk: t.barcode for t in tubes.values()}
    out: dict[int, _Person] = {}
    for pid, name, area_path, id_number, round_id, tube_id, green_round in rows:
        p = out.get(pid)
        if p is None:
            p = out[pid] = _Person(pid, name, area_path, id_number)
        if round_id is not None:
            p.rounds.add(round_id)
            if tube_id in barcode_of:
                p.tubes.add(barcode_of[tube_id])
        if green_round is not None:
            p.green_rounds.add(green_round)
    return out


# --- a single scan or seal on PostgreSQL: two statements, no transaction -------------------------


def _lone(actor: Actor, item: dict[str, Any], now: dt.datetime) -> tuple[int, dict[str, Any]] | None:
    """A station's single scan or seal (the common requests at a live station), answered as the batch
    path answers it, in one read and one write instead of a transaction of four statements and its BEGIN
    and COMMIT: the tube (and, for a scan, the person) are read without a lock
    (``station_sql.scan_facts``), the submission is checked by the same ``_answer``, and the write moves
    the tube only if it still stands as read, like a compare-and-set, together with everything else the
    submission writes: for a scan (``station_sql.scan_write``) the sample, the key's answer and the
    health app's pending sample; for a seal (``station_sql.seal_write``) the key's answer and the audit
    row. None when the tube changed in between (another scan into the same tube) or the health app's
    lean write does not apply: nothing was written, and the locked path answers. A refusal writes its
    key's answer alone; a reused key or a race on a unique constraint raises IntegrityError as on the
    locked path."""
    tokens: dict[str, int | DomainError] = {}
    id_numbers: set[str] = set()
    person_id = id_number = None
    if item["kind"] == "sample":
        _who(item, now, tokens, id_numbers)
        person_id = next((pid for pid in tokens.values() if isinstance(pid, int)), None)
        id_number = next(iter(id_numbers), None)
        if not (person_id or id_number):
            return None  # a refused code or no person: the batch path says why
    barcode = (item["barcode"] or "").strip()
    if not barcode:
        return None
    user = actor.user
    found, people_rows = sql.scan_facts(user.pk, barcode, person_id=person_id, id_number=id_number)
    if found is None:
        return None
    may_sample = not scope_for(user, Cap.TESTING_SAMPLE).is_empty
    tubes = {found.barcode: _tube(user, found, may_sample=may_sample)}
    people = _people_of(people_rows, tubes)
    state = _State(
        actor=actor,
        now=now,
        keys={},
        tubes=tubes,
        sites={},
        people=people,
        by_id_number={p.id_number: p for p in people.values()},
        tokens=tokens,
        keys_read=False,
    )
    status, answer = _answer(state, item)
    at = connection.ops.adapt_datetimefield_value(now)
    keys = [(user.pk, key, fp, code, json.dumps(body), at) for key, fp, code, body in state.new_keys]
    pending = None
    # In a transaction (a test's), a failed statement would abort it: a savepoint keeps it usable.
    with transaction.atomic() if connection.in_atomic_block else nullcontext():
        if state.samples:
            [(tube, person, row)] = state.samples
            pending = health_port.lone_pending(
                person_id=person.pk, sample_ref=health_port.sample_ref(tube.barcode, person.pk), sampled_at=now, now=now
            )
            written, moved = sql.scan_write(
                tube_id=found.pk,
                count=tube.member_count,
                sample=_sample_row(tube, person, row, user.pk, at),
                key=keys[0],
                pending=pending,
            )
        elif state.audits:  # sealed
            [(action, tube, extra)] = state.audits
            written = sql.seal_write(
                tube_id=found.pk,
                count=tube.member_count,
                sealed_at=connection.ops.adapt_datetimefield_value(tube.sealed_at),
                laboratory_id=tube.laboratory_id,
                key=keys[0],
                audit=audit_append_from(
                    actor=actor, action=action, object_type="testing.tube", source="c", extra=extra, now=now
                ),
            )
        else:  # refused, or not this sampler's tube
            if keys:
                sql.write(new_tubes=[], tube_updates=[], samples=[], keys=keys)
            return status, answer
    if not written:
        return None
    if pending is not None:
        pending.done(moved)
    return status, answer


# --- step 2: every submission answered in order ---------------------------------------------------


def _answer(state: _State, item: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    key = item["key"]
    if not key or not _KEY.match(key):
        return 400, {"code": "idempotency_key_invalid", "message": _("The submission has no valid idempotency key.")}
    fp = fingerprint({k: v for k, v in item.items() if k != "key"})
    stored = state.keys.get(key)
    if stored is not None:
        return _replayed(stored, fp)
    try:
        status, answer = 200, _act(state, item)
    except DomainError as exc:
        status, answer = exc.status, {"code": exc.code, "message": str(exc.message), **exc.details}
    except _Unreachable:
        if not state.keys_read:  # a retry of a stored answer is answered from it, as after a key read
            stored = sql.stored_answers(state.actor.user.pk, [key]).get(key)
            if stored is not None:
                return _replayed(stored, fp)
        return not_found_answer()
    state.keys[key] = (fp, status, answer)
    state.new_keys.append((key, fp, status, answer))
    return status, answer


def _replayed(stored: tuple[str, int, dict[str, Any]], fp: str) -> tuple[int, dict[str, Any]]:
    if stored[0] != fp:
        return 409, {
            "code": "idempotency_key_reused",
            "message": _("This submission key was already used for a different submission."),
        }
    return stored[1], dict(stored[2], replayed=True)


def _act(state: _State, item: dict[str, Any]) -> dict[str, Any]:
    if item["kind"] == "open":
        return _open(state, item)
    tube = state.tubes.get((item["barcode"] or "").strip())
    if tube is None or not tube.reachable:
        raise _Unreachable
    if item["kind"] == "seal":
        return _seal(state, tube)
    return _sample(state, tube, item)


def _view(tube: _Tube) -> dict[str, Any]:
    return {"barcode": tube.barcode, "count": tube.member_count, "pool_size": tube.pool_size, "status": tube.status}


def _open(state: _State, item: dict[str, Any]) -> dict[str, Any]:
    if item["site_id"] is None:
        raise DomainError("site_required", "site_id is required")
    site = state.sites.get(int(item["site_id"]))
    if site is None:
        raise _Unreachable
    barcode = clean_barcode(item["barcode"])
    rnd = site.rnd
    require_sampling(rnd, state.now)
    if barcode in state.tubes:
        raise Conflict("tube_used", _("This tube barcode has been used already. Take a new tube."), field="barcode")
    tube = _Tube(
        pk=None,
        barcode=barcode,
        rnd=rnd,
        site_id=site.pk,
        site_laboratory_id=site.laboratory_id,
        pool_size=rnd.pool_size,
        member_count=0,
        status=TubeStatus.OPEN,
        reachable=True,
        is_new=True,
    )
    state.tubes[barcode] = tube
    state.audits.append(("testing.tube_open", tube, {}))
    return _view(tube)


def _seal(state: _State, tube: _Tube) -> dict[str, Any]:
    if tube.status == TubeStatus.SEALED:
        raise Conflict("tube_sealed", _("This tube is already sealed."))
    if tube.member_count == 0:
        raise DomainError("tube_empty", _("An empty tube cannot be sealed."))
    lab_id = (tube.site_laboratory_id if tube.site_id else None) or tube.rnd.laboratory_id
    tube.status, tube.sealed_at, tube.laboratory_id, tube.is_changed = TubeStatus.SEALED, state.now, lab_id, True
    state.audits.append(("testing.tube_seal", tube, {"members": tube.member_count, "laboratory": lab_id}))
    return _view(tube)


def _sample(state: _State, tube: _Tube, item: dict[str, Any]) -> dict[str, Any]:
    rnd, now = tube.rnd, state.now
    require_sampling(rnd, now)
    if tube.status != TubeStatus.OPEN:
        raise Conflict("tube_sealed", _("This tube is sealed. Scan a new tube."))
    if tube.member_count >= tube.pool_size:
        raise Conflict(
            "tube_full", _("This tube is full (%(n)s in 1). Seal it and scan a new tube.") % {"n": tube.pool_size}
        )
    person = _person(state, rnd, item)
    name = mask_name(person.name)
    if tube.barcode in person.tubes:
        raise Conflict("person_in_tube", _("%(name)s is already in this tube.") % {"name": name})
    warnings = []
    repeat = rnd.pk in person.rounds
    if repeat:
        warnings.append(
            {"code": "sampled_twice", "message": _("%(name)s was already sampled in this round.") % {"name": name}}
        )
    device_at = item["device_at"]
    skewed = device_at is not None and abs(device_at - now) > CLOCK_SKEW_LIMIT
    if skewed:
        warnings.append({"code": "clock_skew", "message": _("This device's clock is wrong; the server time is used.")})
    green = bool(item["green_channel"]) or rnd.pk in person.green_rounds
    person.rounds.add(rnd.pk)
    person.tubes.add(tube.barcode)
    tube.member_count += 1
    tube.is_changed = True
    row = {
        "device_at": device_at,
        "is_clock_skewed": skewed,
        "is_green_channel": green,
        "is_repeat_in_round": repeat,
        "by_id_number": not item["code"] and bool(item["id_number"]),
    }
    state.samples.append((tube, person, row))
    return SampleOutcome(
        barcode=tube.barcode,
        count=tube.member_count,
        pool_size=tube.pool_size,
        person_name=name,
        sampled_at=now,
        green_channel=green,
        warnings=warnings,
    ).as_dict()


def _person(state: _State, rnd: Round, item: dict[str, Any]) -> _Person:
    """As ``station._resolve_person``: a code names anyone, a typed number only a resident of the round's
    territory."""
    if item["code"]:
        pid = state.tokens[item["code"].strip()]
        if isinstance(pid, DomainError):
            raise pid
        person = state.people.get(pid)
        if person is None:
            raise NotFound("person_not_found", _("Nobody is registered with this sampling code."))
        return person
    if item["id_number"]:
        person = state.by_id_number.get(idnumber.normalize(item["id_number"]))
        if person is not None:
            low, high = path_range(rnd.area_path)
            if not low <= person.area_path < high:
                person = None
        if person is None:
            raise NotFound(
                "person_not_found", _("No resident of this round's territory has this ID number."), field="id_number"
            )
        return person
    raise DomainError("person_required", _("Scan a sampling code or type an ID number."))


# --- step 3: the batch's writes, one statement each -----------------------------------------------


def _write(state: _State) -> None:
    user, now = state.actor.user, state.now
    adapt = connection.ops.adapt_datetimefield_value
    at = adapt(now)
    # The batch's new tubes as they stand at its end (filled, perhaps sealed): no UPDATE after.
    new = [t for t in state.tubes.values() if t.is_new]
    ids = sql.write(
        new_tubes=[
            (
                t.barcode,
                t.rnd.pk,
                t.site_id,
                t.pool_size,
                t.member_count,
                str(t.status),
                t.laboratory_id,
                user.pk,
                at,
                adapt(t.sealed_at),
                False,
            )
            for t in new
        ],
        tube_updates=[
            (t.pk, t.member_count, str(t.status), adapt(t.sealed_at), t.laboratory_id)
            for t in state.tubes.values()
            if t.is_changed and not t.is_new
        ],
        samples=[
            (tube.pk, tube.barcode, *_sample_row(tube, person, row, user.pk, at)[1:])
            for tube, person, row in state.samples
        ],
        keys=[(user.pk, key, fp, status, json.dumps(answer), at) for key, fp, status, answer in state.new_keys],
    )
    for t in new:
        t.pk = ids[t.barcode]
    if state.audits:
        audit_append_many(
            actor=state.actor,
            rows=[(action, "testing.tube", str(tube.pk), extra) for action, tube, extra in state.audits],
            now=now,
        )
    health_port.samples_recorded(
        items=[
            (person.pk, health_port.sample_ref(tube.barcode, person.pk), now, now) for tube, person, _ in state.samples
        ]
    )


def _sample_row(tube: _Tube, person: _Person, row: dict[str, Any], user_id: int, at: Any) -> tuple[Any, ...]:
    """A sample's ``station_sql.SAMPLE_COLUMNS``."""
    return (
        tube.pk,
        person.pk,
        tube.rnd.pk,
        tube.site_id,
        person.area_path,
        at,
        connection.ops.adapt_datetimefield_value(row["device_at"]),
        row["is_clock_skewed"],
        row["is_green_channel"],
        row["is_repeat_in_round"],
        row["by_id_number"],
        user_id,
    )
