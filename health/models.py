"""Health status (健康码): evidence, versioned rules, the denormalised current status and its history.

The evidence tables (Sample, CompanionRecord, ManualDecision) are the source of truth. HealthStatus is
one narrow row per person, recomputed from evidence and the rule version, so that a verification read
is a single primary-key lookup. StatusHistory keeps every change, shown to the person themself.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class Colour(models.TextChoices):
    GREEN = "green", _("Green")
    YELLOW = "yellow", _("Yellow")
    RED = "red", _("Red")


class Result(models.TextChoices):
    PENDING = "pending", _("Pending")
    NEGATIVE = "negative", _("Negative")
    POSITIVE = "positive", _("Positive")
    INVALID = "invalid", _("Invalid")


class ReasonCode(models.TextChoices):
    DEFAULT_GREEN = "default_green", _("No risk evidence")
    POSITIVE_SINGLE = "positive_single", _("Positive single-tube result")
    POOL_RECHECK = "pool_recheck", _("Positive pool, awaiting single-tube recheck")
    COMPANION = "companion", _("Space-time companion, awaiting clearance tests")
    MANUAL = "manual", _("Decision by an epidemiologist")


class ManualReason(models.TextChoices):
    CLOSE_CONTACT = "close_contact", _("Close contact confirmed by investigation")
    RECOVERED = "recovered", _("Recovered and released from isolation")
    RESULT_ERROR = "result_error", _("Correction of an erroneous result")
    TRAVEL = "travel", _("Arrival from a risk area")
    OTHER = "other", _("Other (see the evidence note)")


_COLOURS = [c.value for c in Colour]


class RuleVersion(models.Model):
    """One immutable version of the colour rules. The highest version is the one in force."""

    version = models.PositiveIntegerField(unique=True)
    positive_single_colour = models.CharField(max_length=8, choices=Colour.choices, default=Colour.RED)
    pool_recheck_colour = models.CharField(max_length=8, choices=Colour.choices, default=Colour.YELLOW)
    companion_colour = models.CharField(max_length=8, choices=Colour.choices, default=Colour.YELLOW)
    # "3天2检": two negative samplings at least gap hours apart, both within window hours, clear a companion.
    companion_clear_tests = models.PositiveSmallIntegerField(default=2)
    companion_clear_gap_hours = models.PositiveSmallIntegerField(default=24)
    companion_clear_window_hours = models.PositiveSmallIntegerField(default=72)
    # A marker shown beside the colour when no negative sampling is this recent; null: no marker.
    overdue_hours = models.PositiveSmallIntegerField(null=True, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.CheckConstraint(condition=Q(positive_single_colour__in=_COLOURS), name="rule_pos_colour"),
            models.CheckConstraint(condition=Q(pool_recheck_colour__in=_COLOURS), name="rule_pool_colour"),
            models.CheckConstraint(condition=Q(companion_colour__in=_COLOURS), name="rule_comp_colour"),
            models.CheckConstraint(condition=Q(companion_clear_tests__gte=1), name="rule_clear_tests_min"),
            models.CheckConstraint(
                condition=Q(companion_clear_window_hours__gte=F("companion_clear_gap_hours")),
                name="rule_clear_window_ge_gap",
            ),
        ]

    def __str__(self) -> str:
        return f"v{self.version}"


class Sample(models.Model):
    """A sampling of one person (a tube, pooled or single) and its result once known."""

    # No index of its own: the unique (person, sample_ref) and the (person, sampled_at) index lead with it.
    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="+", db_index=False)
    sample_ref = models.CharField(max_length=64)
    sampled_at = models.DateTimeField()
    result = models.CharField(max_length=10, choices=Result.choices, default=Result.PENDING)
    is_pooled = models.BooleanField(default=False)
    result_at = models.DateTimeField(null=True, blank=True)
    recorded_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["person", "sample_ref"], name="health_sample_person_ref_uniq"),
            models.CheckConstraint(
                condition=Q(result__in=[r.value for r in Result]), name="health_sample_result_valid"
            ),
            models.CheckConstraint(
                condition=Q(result="pending", result_at__isnull=True)
                | (~Q(result="pending") & Q(result_at__isnull=False)),
                name="health_sample_result_at_iff",
            ),
        ]
        indexes = [models.Index(fields=["person", "sampled_at"], name="health_sample_person_time_idx")]

    def __str__(self) -> str:
        return f"{self.sample_ref} {self.result}"


class CompanionRecord(models.Model):
    """A space-time companion (时空伴随者) found by tracing."""

    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="+")
    case_ref = models.CharField(max_length=64)
    exposed_at = models.DateTimeField()
    recorded_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["person", "case_ref"], name="companion_person_case_uniq")]

    def __str__(self) -> str:
        return f"{self.case_ref} @ {self.exposed_at:%Y-%m-%d %H:%M}"


class ChangeState(models.TextChoices):
    AWAITING_APPROVAL = "awaiting_approval", _("Awaiting HQ approval")
    RUNNING = "running", _("Running")
    PAUSED = "paused", _("Paused")
    DONE = "done", _("Done")
    REJECTED = "rejected", _("Rejected")


class ChangeRequest(models.Model):
    """A manual status change by an epidemiologist, for one person or many."""

    colour = models.CharField(max_length=8, choices=Colour.choices)
    reason_code = models.CharField(max_length=20, choices=ManualReason.choices)
    note = models.TextField()
    state = models.CharField(max_length=20, choices=ChangeState.choices)
    person_count = models.PositiveIntegerField()
    applied_count = models.PositiveIntegerField(default=0)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(colour__in=_COLOURS), name="change_colour_valid"),
            models.CheckConstraint(condition=~Q(note=""), name="change_note_required"),
            # The second approver is a different person: the Henan 2022 lesson.
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=F("requested_by")),
                name="change_four_eyes",
            ),
            models.CheckConstraint(condition=Q(applied_count__lte=F("person_count")), name="change_applied_le_count"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.colour} x{self.person_count} ({self.state})"


class ChangeItem(models.Model):
    request = models.ForeignKey(ChangeRequest, on_delete=models.CASCADE, related_name="items")
    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="+")
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["request", "person"], name="change_item_uniq")]
        indexes = [models.Index(fields=["request", "applied_at"], name="change_item_todo_idx")]

    def __str__(self) -> str:
        return f"#{self.request_id}/{self.person_id}"


class ManualDecision(models.Model):
    """Evidence: an epidemiologist's decision. It settles the evidence known when it was made."""

    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="+")
    colour = models.CharField(max_length=8, choices=Colour.choices)
    reason_code = models.CharField(max_length=20, choices=ManualReason.choices)
    note = models.TextField()
    decided_at = models.DateTimeField()
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    change_request = models.ForeignKey(ChangeRequest, on_delete=models.PROTECT, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["person", "decided_at"], name="manual_person_time_idx")]
        constraints = [models.CheckConstraint(condition=Q(colour__in=_COLOURS), name="manual_colour_valid")]

    def __str__(self) -> str:
        return f"{self.colour} {self.reason_code} @ {self.decided_at:%Y-%m-%d %H:%M}"


class HealthStatus(models.Model):
    """The current status and test summary of one person: the row every verification reads."""

    person = models.OneToOneField(
        "people.Person", primary_key=True, on_delete=models.CASCADE, related_name="health_status"
    )
    colour = models.CharField(max_length=8, choices=Colour.choices, default=Colour.GREEN)
    reason_code = models.CharField(max_length=20, choices=ReasonCode.choices, default=ReasonCode.DEFAULT_GREEN)
    evidence = models.CharField(max_length=100, blank=True)
    rule_version = models.PositiveIntegerField()
    since = models.DateTimeField()
    evaluated_at = models.DateTimeField()
    latest_sampled_at = models.DateTimeField(null=True, blank=True)
    latest_result = models.CharField(max_length=10, choices=Result.choices, blank=True)
    latest_negative_sampled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(colour__in=_COLOURS), name="status_colour_valid"),
            models.CheckConstraint(
                condition=Q(latest_sampled_at__isnull=True, latest_result="")
                | Q(latest_sampled_at__isnull=False, latest_result__in=[r.value for r in Result]),
                name="status_latest_consistent",
            ),
        ]
        indexes = [models.Index(fields=["colour"], name="status_colour_idx", condition=~Q(colour="green"))]

    def __str__(self) -> str:
        return f"{self.colour} ({self.reason_code})"


class StatusHistory(models.Model):
    """Every change of a person's status, in the transaction of the change."""

    # No index of its own: the (person, at) index leads with it.
    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="+", db_index=False)
    at = models.DateTimeField()
    colour = models.CharField(max_length=8, choices=Colour.choices)
    previous_colour = models.CharField(max_length=8, choices=Colour.choices, blank=True)
    reason_code = models.CharField(max_length=20, choices=ReasonCode.choices)
    evidence = models.CharField(max_length=100, blank=True)
    rule_version = models.PositiveIntegerField()
    actor_label = models.CharField(max_length=150, blank=True)
    change_request = models.ForeignKey(ChangeRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["person", "at"], name="history_person_time_idx")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.previous_colour}->{self.colour}"


class RecomputeJob(models.Model):
    """A full recompute, for the progress display on the HQ page."""

    rule_version = models.PositiveIntegerField()
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"recompute v{self.rule_version} {self.done}/{self.total}"
