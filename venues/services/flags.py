"""Review of flagged check-ins: a finding and a note, audited; nobody's colour changes. A later
review corrects an earlier one (both kept, the newest shown)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from audit.services import Actor, audit_record
from common.errors import DomainError
from venues.models import FlagOutcome, FlagReview

NOTE_MAX = 200


@transaction.atomic
def flag_review(*, actor: Actor, checkin: dict[str, Any], outcome: str, note: str, now: dt.datetime) -> FlagReview:
    """Record the reviewer's finding on a flagged check-in (a row of
    ``venues.selectors.flags.flagged_checkins``, so already within the reviewer's territory).

    Deliberately nothing else: a finding of misuse is evidence for a person, not a status change.
    Whoever decides a colour does it through the health app's audited manual change.
    """
    if outcome not in FlagOutcome.values:
        raise DomainError("outcome_invalid", _("Choose an outcome."), field="outcome")
    text = " ".join((note or "").split())
    if len(text) > NOTE_MAX:
        raise DomainError("note_too_long", _("At most %(limit)d characters.") % {"limit": NOTE_MAX}, field="note")
    # A second review (by the same or another reviewer) corrects the first: both rows stay.
    earlier = FlagReview.objects.filter(checkin_id=checkin["id"]).order_by("-reviewed_at", "-id").first()
    review = FlagReview.objects.create(
        checkin_id=checkin["id"],
        checked_in_at=checkin["checked_in_at"],
        outcome=outcome,
        note=text,
        reviewed_by=actor.user,
        reviewed_at=now,
    )
    extra: dict[str, Any] = {"outcome": outcome, "flag": checkin["flag_reason"], "person": checkin["person_id"]}
    if earlier is not None:
        extra["supersedes"] = {"review": earlier.pk, "outcome": earlier.outcome}
    audit_record(
        actor=actor,
        action="venue.flag_review",
        object_type="venues.checkin",
        object_id=checkin["id"],
        reason=text,
        now=now,
        extra=extra,
    )
    return review
