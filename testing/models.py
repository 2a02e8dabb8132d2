"""Nucleic-acid testing rounds (核酸检测): rounds, sites, tubes, samples, laboratory results, and the
field work around them (pre-registration, home sampling, exemptions, call lists, recheck tasks).

Integrity that matters lives in the database: a tube barcode is unique for ever, a person appears
once per tube, a tube never holds more people than its pool size, a tube has at most one result.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

POOL_SIZES = (1, 5, 10, 20)


class RoundStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")


class RoundPhase(models.TextChoices):
    """Where a round stands at a given time: an open round whose start is still ahead is scheduled; one
    whose deadline has passed is overdue, and takes samples until command HQ closes it."""

    SCHEDULED = "scheduled", _("Scheduled")
    OPEN = "open", _("Open")
    OVERDUE = "overdue", _("Overdue")
    CLOSED = "closed", _("Closed")


class Laboratory(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("laboratory")
        verbose_name_plural = _("laboratories")

    def __str__(self) -> str:
        return self.name


class LaboratoryMember(models.Model):
    """A laboratory account (Role.LAB) belongs to exactly one laboratory."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="laboratory_link")
    laboratory = models.ForeignKey(Laboratory, on_delete=models.CASCADE, related_name="members")

    def __str__(self) -> str:
        return f"{self.user_id} @ {self.laboratory_id}"


class Round(models.Model):
    name = models.CharField(_("name"), max_length=50)
    area = models.ForeignKey("territory.Area", on_delete=models.PROTECT, related_name="+")
    area_path = models.CharField(max_length=80, db_index=True, editable=False)
    starts_at = models.DateTimeField(_("starts at"))
    deadline_at = models.DateTimeField(_("deadline"))
    pool_size = models.PositiveSmallIntegerField(_("pooling"), default=10)
    # Person categories the round must cover; empty means everybody living in the territory.
    categories = models.JSONField(default=list, blank=True)
    laboratory = models.ForeignKey(
        Laboratory,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="rounds",
        help_text=_("Laboratory receiving the tubes of sites that name none."),
    )
    status = models.CharField(max_length=8, choices=RoundStatus.choices, default=RoundStatus.OPEN)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    # When command HQ was last reminded that the open round is past its deadline, and how many times
    # since the deadline was last set (reminders repeat every TESTING_OVERDUE_REMIND_HOURS; a new
    # deadline starts the count again).
    overdue_reminded_at = models.DateTimeField(null=True, blank=True)
    overdue_reminder_count = models.PositiveSmallIntegerField(default=0)
    # Coverage at closing time (totals, and per level-1 grid under "by_grid"), kept so the figures
    # survive later changes of the roster; "nodes_kept" says the figures of every node are kept too
    # (RoundFigure), which rounds closed before those were kept lack.
    final_figures = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("testing round")
        verbose_name_plural = _("testing rounds")
        constraints = [
            models.CheckConstraint(condition=Q(pool_size__in=POOL_SIZES), name="round_pool_size_valid"),
            models.CheckConstraint(condition=Q(deadline_at__gt=F("starts_at")), name="round_deadline_after_start"),
            models.UniqueConstraint(fields=["area", "name"], name="round_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_open(self) -> bool:
        return self.status == RoundStatus.OPEN

    @property
    def keeps_node_figures(self) -> bool:
        """Closed, with the figures of every node kept at closing: coverage reads RoundFigure."""
        return self.status == RoundStatus.CLOSED and bool(self.final_figures.get("nodes_kept"))

    def phase(self, now: dt.datetime) -> RoundPhase:
        if self.status == RoundStatus.CLOSED:
            return RoundPhase.CLOSED
        if now < self.starts_at:
            return RoundPhase.SCHEDULED
        return RoundPhase.OVERDUE if now >= self.deadline_at else RoundPhase.OPEN


class RoundDeadlineChange(models.Model):
    """A new deadline command HQ set for an open round, and why; the round page lists them."""

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="deadline_changes")
    old_deadline_at = models.DateTimeField()
    new_deadline_at = models.DateTimeField()
    reason = models.CharField(max_length=300)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    changed_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["round", "changed_at"], name="deadline_round_time_idx")]

    def __str__(self) -> str:
        return f"{self.round_id} -> {self.new_deadline_at:%Y-%m-%d %H:%M}"


class RoundFigure(models.Model):
    """Coverage of a closed round at closing, per place where people live (a household, or whichever
    node a person is attached to). The figures of every node above are sums of these, so each
    coverage page of a closed round reads what it showed at closing, whatever happens to the roster
    or the round's rows afterwards. Written once, set-based, by ``round_close``."""

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="+")
    path = models.CharField(max_length=80)
    total = models.PositiveIntegerField()
    covered = models.PositiveIntegerField()
    exempted = models.PositiveIntegerField()
    home_pending = models.PositiveIntegerField()

    class Meta:
        # Also the index of every read: a node's figures are a range of paths of one round.
        constraints = [models.UniqueConstraint(fields=["round", "path"], name="roundfigure_unique")]

    def __str__(self) -> str:
        return f"{self.round_id} {self.path}"


class Site(models.Model):
    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="sites")
    name = models.CharField(_("name"), max_length=100)
    location = models.CharField(_("location"), max_length=200)
    area = models.ForeignKey("territory.Area", on_delete=models.PROTECT, related_name="+")  # its grid
    area_path = models.CharField(max_length=80, db_index=True, editable=False)
    hours = models.CharField(_("opening hours"), max_length=100, blank=True)
    laboratory = models.ForeignKey(Laboratory, null=True, blank=True, on_delete=models.PROTECT, related_name="sites")
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("sampling site")
        verbose_name_plural = _("sampling sites")
        constraints = [models.UniqueConstraint(fields=["round", "name"], name="site_unique_name")]

    def __str__(self) -> str:
        return self.name


class SiteStaff(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="staff")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "user"], name="sitestaff_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} @ {self.site_id}"


class TubeStatus(models.TextChoices):
    OPEN = "open", _("Filling")
    SEALED = "sealed", _("Sealed")


class Tube(models.Model):
    barcode = models.CharField(_("tube barcode"), max_length=40, unique=True)  # used once, ever
    round = models.ForeignKey(Round, on_delete=models.PROTECT, related_name="tubes")
    site = models.ForeignKey(Site, null=True, blank=True, on_delete=models.PROTECT, related_name="tubes")
    pool_size = models.PositiveSmallIntegerField()
    member_count = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=8, choices=TubeStatus.choices, default=TubeStatus.OPEN)
    laboratory = models.ForeignKey(Laboratory, null=True, blank=True, on_delete=models.PROTECT, related_name="tubes")
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    opened_at = models.DateTimeField()
    sealed_at = models.DateTimeField(null=True, blank=True)
    is_home_sampling = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("tube")
        verbose_name_plural = _("tubes")
        constraints = [
            models.CheckConstraint(condition=Q(member_count__lte=F("pool_size")), name="tube_pool_not_exceeded"),
            models.CheckConstraint(condition=Q(pool_size__in=POOL_SIZES), name="tube_pool_size_valid"),
        ]
        indexes = [models.Index(fields=["site", "opened_at"], name="tube_site_opened_idx")]

    def __str__(self) -> str:
        return self.barcode

    @property
    def is_pooled(self) -> bool:
        return self.pool_size > 1


class Sample(models.Model):
    """One person's swab in one tube. The sample time is the server's; the device's is kept beside it."""

    # No single-column index on these four: each leads an index of Meta (tube: the unique pair), which
    # serves the same lookups, and every scan inserts into every index of this table.
    tube = models.ForeignKey(Tube, on_delete=models.PROTECT, related_name="samples", db_index=False)
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+", db_index=False)
    round = models.ForeignKey(Round, on_delete=models.PROTECT, related_name="+", db_index=False)
    site = models.ForeignKey(Site, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False)
    area_path = models.CharField(max_length=80)  # the person's, at sampling time
    sampled_at = models.DateTimeField()
    device_at = models.DateTimeField(null=True, blank=True)
    is_clock_skewed = models.BooleanField(default=False)
    is_green_channel = models.BooleanField(default=False)
    is_repeat_in_round = models.BooleanField(default=False)
    by_id_number = models.BooleanField(default=False)
    sampler = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("sample")
        verbose_name_plural = _("samples")
        constraints = [models.UniqueConstraint(fields=["tube", "person"], name="sample_unique_person_in_tube")]
        indexes = [
            models.Index(fields=["round", "person"], name="sample_round_person_idx"),
            models.Index(fields=["round", "area_path"], name="sample_round_path_idx"),
            models.Index(fields=["site", "sampled_at"], name="sample_site_time_idx"),
            models.Index(fields=["person", "sampled_at"], name="sample_person_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.tube_id}:{self.person_id}"


class IdempotentRequest(models.Model):
    """The first answer to a client's submission, returned again to any retry with the same key."""

    # Indexed by the unique (user, key) pair, which it leads.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False)
    key = models.CharField(max_length=64)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotent_unique_key")]

    def __str__(self) -> str:
        return self.key


class ResultValue(models.TextChoices):
    NEGATIVE = "negative", _("Negative")
    POSITIVE = "positive", _("Positive")
    INVALID = "invalid", _("Invalid")


class LabUpload(models.Model):
    laboratory = models.ForeignKey(Laboratory, on_delete=models.PROTECT, related_name="uploads")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    filename = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField()
    row_count = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict)  # fate -> number of rows
    problems = models.JSONField(default=list)  # [line, barcode, fate, message] of every row not loaded

    def __str__(self) -> str:
        return self.filename


class Result(models.Model):
    tube = models.OneToOneField(Tube, on_delete=models.PROTECT, related_name="result")
    laboratory = models.ForeignKey(Laboratory, on_delete=models.PROTECT, related_name="results")
    value = models.CharField(max_length=8, choices=ResultValue.choices)
    upload = models.ForeignKey(LabUpload, null=True, blank=True, on_delete=models.SET_NULL, related_name="results")
    received_at = models.DateTimeField()
    corrected_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["laboratory", "received_at"], name="result_lab_time_idx")]

    def __str__(self) -> str:
        return f"{self.tube_id} {self.value}"


class ExceptionStatus(models.TextChoices):
    OPEN = "open", _("Open")
    APPLIED = "applied", _("Applied to a tube")
    DISMISSED = "dismissed", _("Dismissed")


class ResultException(models.Model):
    """A result row no tube of the uploading laboratory matches; a human decides what it was."""

    laboratory = models.ForeignKey(Laboratory, on_delete=models.PROTECT, related_name="exceptions")
    upload = models.ForeignKey(LabUpload, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    line = models.PositiveIntegerField(default=0)
    barcode = models.CharField(max_length=100)
    value = models.CharField(max_length=8, choices=ResultValue.choices)
    status = models.CharField(max_length=10, choices=ExceptionStatus.choices, default=ExceptionStatus.OPEN)
    created_at = models.DateTimeField()
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["laboratory", "barcode", "value"], name="exception_unique_row"),
        ]

    def __str__(self) -> str:
        return self.barcode


class CorrectionStatus(models.TextChoices):
    PENDING = "pending", _("Awaiting second person")
    APPLIED = "applied", _("Applied")
    REJECTED = "rejected", _("Rejected")


class ResultCorrection(models.Model):
    result = models.ForeignKey(Result, on_delete=models.PROTECT, related_name="corrections")
    old_value = models.CharField(max_length=8, choices=ResultValue.choices)
    new_value = models.CharField(max_length=8, choices=ResultValue.choices)
    reason = models.CharField(max_length=500)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=CorrectionStatus.choices, default=CorrectionStatus.PENDING)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=F("requested_by")),
                name="correction_second_person",
            ),
            models.UniqueConstraint(fields=["result"], condition=Q(status="pending"), name="correction_one_pending"),
        ]

    def __str__(self) -> str:
        return f"{self.result_id} {self.old_value}->{self.new_value}"


class RecheckStatus(models.TextChoices):
    OPEN = "open", _("Awaiting single-tube recheck")
    CLOSED = "closed", _("Rechecked")
    CANCELLED = "cancelled", _("Cancelled (result corrected)")


class RecheckTask(models.Model):
    """待单采复核: a member of a positive pool is to be sampled again alone, by their grid."""

    round = models.ForeignKey(Round, on_delete=models.PROTECT, related_name="+")
    tube = models.ForeignKey(Tube, on_delete=models.PROTECT, related_name="recheck_tasks")
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+")
    area_path = models.CharField(max_length=80, db_index=True)
    status = models.CharField(max_length=10, choices=RecheckStatus.choices, default=RecheckStatus.OPEN)
    created_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    closing_tube = models.ForeignKey(Tube, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    closing_result = models.CharField(max_length=8, choices=ResultValue.choices, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tube", "person"], name="recheck_unique")]
        indexes = [models.Index(fields=["person", "status"], name="recheck_person_status_idx")]

    def __str__(self) -> str:
        return f"recheck {self.person_id}"


class Case(models.Model):
    """A positive single-tube result, minimal until the tracing app takes cases over."""

    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+")
    tube = models.ForeignKey(Tube, on_delete=models.PROTECT, related_name="+")
    area_path = models.CharField(max_length=80, db_index=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["person", "tube"], name="case_unique")]

    def __str__(self) -> str:
        return f"case {self.person_id}"


class PreRegistration(models.Model):
    """预登记: a grid worker registers in advance someone who cannot do it themselves."""

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+")
    area_path = models.CharField(max_length=80, db_index=True)
    needs_green_channel = models.BooleanField(default=True)
    note = models.CharField(max_length=200, blank=True)
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["round", "person"], name="prereg_unique")]

    def __str__(self) -> str:
        return f"prereg {self.person_id}"


class HomeStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SAMPLED = "sampled", _("Sampled")
    REFUSED = "refused", _("Refused")
    ABSENT = "absent", _("Absent")


class HomeReason(models.TextChoices):
    MOBILITY = "mobility", _("Limited mobility")
    REQUEST = "request", _("Resident's request")


class HomeTeam(models.Model):
    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="home_teams")
    name = models.CharField(max_length=100)
    area = models.ForeignKey("territory.Area", on_delete=models.PROTECT, related_name="+")
    area_path = models.CharField(max_length=80, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["round", "name"], name="hometeam_unique")]

    def __str__(self) -> str:
        return self.name


class HomeTeamMember(models.Model):
    team = models.ForeignKey(HomeTeam, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="hometeammember_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} @ {self.team_id}"


class HomeSamplingRequest(models.Model):
    """上门采样."""

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+")
    area_path = models.CharField(max_length=80, db_index=True)
    reason = models.CharField(max_length=10, choices=HomeReason.choices)
    team = models.ForeignKey(HomeTeam, null=True, blank=True, on_delete=models.SET_NULL, related_name="requests")
    status = models.CharField(max_length=10, choices=HomeStatus.choices, default=HomeStatus.PENDING)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    closed_at = models.DateTimeField(null=True, blank=True)
    tube = models.ForeignKey(Tube, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["round", "person"], name="home_unique")]

    def __str__(self) -> str:
        return f"home {self.person_id}"


class ExemptionReason(models.TextChoices):
    AWAY = "away", _("Away")
    HOSPITAL = "hospital", _("In hospital")
    ELSEWHERE = "elsewhere", _("Tested elsewhere (with proof)")


class Exemption(models.Model):
    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+")
    area_path = models.CharField(max_length=80, db_index=True)
    reason = models.CharField(max_length=10, choices=ExemptionReason.choices)
    proof = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["round", "person"], name="exemption_unique"),
            models.CheckConstraint(condition=~Q(reason="elsewhere") | ~Q(proof=""), name="exemption_elsewhere_proof"),
        ]

    def __str__(self) -> str:
        return f"exempt {self.person_id}"


class CallOutcome(models.TextChoices):
    DONE = "done", _("Already tested")
    AWAY = "away", _("Away")
    HOSPITAL = "hospital", _("In hospital")
    REFUSED = "refused", _("Refused")
    UNREACHABLE = "unreachable", _("Unreachable")


class CallLog(models.Model):
    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="+")
    household = models.ForeignKey("territory.Area", on_delete=models.PROTECT, related_name="+")
    area_path = models.CharField(max_length=80, db_index=True)
    outcome = models.CharField(max_length=12, choices=CallOutcome.choices)
    note = models.CharField(max_length=300, blank=True)
    called_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    called_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["round", "household", "called_at"], name="call_round_household_idx")]

    def __str__(self) -> str:
        return f"call {self.household_id} {self.outcome}"
