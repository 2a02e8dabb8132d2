"""Street shops found by the census or the roster, venues with codes (场所码), and check-ins.

The check-in table is the one hot, large table of the app: on PostgreSQL it is partitioned by day
(see migrations/0002 and venues.partitions), so retention drops whole partitions; its model keeps
``id`` as Django's primary key while the database key is (id, checked_in_at), which a partitioned
table requires. Nothing points at a check-in with a foreign key for the same reason.
"""

from __future__ import annotations

import re
import unicodedata

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

NAME_MAX = 60
ADDRESS_MAX = 120


class VenueCategory(models.TextChoices):
    SUPERMARKET = "supermarket", _("Supermarket")
    HOTEL = "hotel", _("Hotel")
    RESTAURANT = "restaurant", _("Restaurant")
    PHARMACY = "pharmacy", _("Pharmacy")
    BARBER = "barber", _("Barber")
    MARKET = "market", _("Farmers' market")
    SCHOOL = "school", _("School")
    CLINIC = "clinic", _("Medical institution")
    ESTATE = "estate", _("Residential estate")
    OFFICE = "office", _("Office")
    OTHER = "other", _("Other")


_KEY_NOISE = re.compile(r"[\W_]+")
SHOP_KEY_MAX = 320


def shop_name_key(name: str, address: str) -> str:
    """The key two records of one shop share: name and address after NFKC (full-width letters and
    digits become half-width), lower case, without spaces or punctuation. "龙城 超市（一店）" at
    "崇文大道１号" and "龙城超市一店" at "崇文大道1号" are the same shop."""

    def norm(text: str) -> str:
        return _KEY_NOISE.sub("", unicodedata.normalize("NFKC", text or "").lower())

    return f"{norm(name)}|{norm(address)}"[:SHOP_KEY_MAX]


class ShopSource(models.TextChoices):
    CENSUS = "census", _("Door-to-door census")
    ROSTER = "roster", _("Roster import")


class Shop(models.Model):
    name = models.CharField(_("name"), max_length=100)
    category = models.CharField(_("category"), max_length=16, choices=VenueCategory.choices)
    address = models.CharField(_("address"), max_length=200)
    area = models.ForeignKey("territory.Area", on_delete=models.PROTECT, related_name="+", verbose_name=_("grid"))
    area_path = models.CharField(max_length=80, db_index=True, editable=False)
    contact_phone = models.CharField(_("contact phone"), max_length=11, blank=True)
    # shop_name_key(name, address); empty only for rows written before it existed (see 0007).
    name_key = models.CharField(max_length=SHOP_KEY_MAX, default="", db_default="", editable=False)
    source = models.CharField(
        _("source"),
        max_length=10,
        choices=ShopSource.choices,
        default=ShopSource.CENSUS,
        db_default=ShopSource.CENSUS,
        editable=False,
    )
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("shop")
        verbose_name_plural = _("shops")
        constraints = [
            # One record per shop and grid; the census and imports also look across the level-1 grid.
            models.UniqueConstraint(
                fields=["area", "name_key"], condition=~Q(name_key=""), name="shop_unique_name_key_per_grid"
            ),
            models.CheckConstraint(condition=Q(source__in=["census", "roster"]), name="shop_source_valid"),
        ]

    def __str__(self) -> str:
        return self.name


class VenueStatus(models.TextChoices):
    PENDING = "pending", _("Awaiting review")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class Venue(models.Model):
    name = models.CharField(_("name"), max_length=NAME_MAX)
    category = models.CharField(_("category"), max_length=16, choices=VenueCategory.choices)
    address = models.CharField(_("address"), max_length=ADDRESS_MAX)
    area = models.ForeignKey("territory.Area", on_delete=models.PROTECT, related_name="+", verbose_name=_("grid"))
    area_path = models.CharField(max_length=80, db_index=True, editable=False)
    shop = models.OneToOneField(
        Shop, null=True, blank=True, on_delete=models.SET_NULL, related_name="venue", verbose_name=_("shop")
    )
    contact_name = models.CharField(_("contact name"), max_length=30)
    contact_phone = models.CharField(_("contact phone"), max_length=11)
    # Optional position, used by the abuse check (two venues too far apart for the elapsed time).
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="managed_venues"
    )
    applied_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(_("status"), max_length=16, choices=VenueStatus.choices, default=VenueStatus.PENDING)
    committed_at = models.DateTimeField(_("commitment signed at"))
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("venue")
        verbose_name_plural = _("venues")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "approved", "rejected"]), name="venue_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(latitude__isnull=True) | Q(latitude__gte=-90, latitude__lte=90), name="venue_latitude_range"
            ),
        ]
        indexes = [models.Index(fields=["area_path", "status"], name="venue_area_status_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_approved(self) -> bool:
        return self.status == VenueStatus.APPROVED


class Entrance(models.Model):
    """One door of a venue; each has its own code, so door staff know where a scan happened."""

    venue = models.ForeignKey(Venue, on_delete=models.CASCADE, related_name="entrances")
    number = models.PositiveSmallIntegerField()
    name = models.CharField(_("entrance"), max_length=30)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("entrance")
        verbose_name_plural = _("entrances")
        constraints = [models.UniqueConstraint(fields=["venue", "number"], name="entrance_unique_number")]

    def __str__(self) -> str:
        return self.name


class VenueCode(models.Model):
    """A generation of an entrance's code. Rotating revokes it and makes the next; a revoked code's
    posters answer "this code is no longer valid"."""

    entrance = models.ForeignKey(Entrance, on_delete=models.CASCADE, related_name="codes")
    serial = models.PositiveIntegerField()
    created_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("venue code")
        verbose_name_plural = _("venue codes")
        constraints = [
            models.UniqueConstraint(fields=["entrance", "serial"], name="venuecode_unique_serial"),
            models.UniqueConstraint(
                fields=["entrance"], condition=Q(revoked_at__isnull=True), name="venuecode_one_active"
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def number(self) -> str:
        """The code number printed on the poster (编号): venue, entrance, generation."""
        return f"{self.entrance.venue_id:06d}-{self.entrance.number:02d}-{self.serial}"


class Colour(models.TextChoices):
    GREEN = "green", _("Green")
    YELLOW = "yellow", _("Yellow")
    RED = "red", _("Red")


class Verdict(models.TextChoices):
    ALLOW = "allow", _("Let in")
    RESTRICT = "restrict", _("Restricted")
    DENY = "deny", _("Do not let in")


class Method(models.TextChoices):
    SCAN = "scan", _("Own scan")
    COMPANION = "companion", _("Companion")
    SENTINEL = "sentinel", _("Sentinel")


class CheckIn(models.Model):
    # Django's key; on PostgreSQL the table key is (id, checked_in_at) because of the partitioning.
    id = models.BigAutoField(primary_key=True)
    checked_in_at = models.DateTimeField()
    venue = models.ForeignKey(Venue, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    entrance = models.ForeignKey(Entrance, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    person = models.ForeignKey("people.Person", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    # Who pressed the button: the resident's account (own scan, companions) or the sentinel's staff.
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    method = models.CharField(max_length=10, choices=Method.choices)
    scan_key = models.CharField(max_length=64)
    colour = models.CharField(max_length=6, choices=Colour.choices)
    reason_code = models.CharField(max_length=40, blank=True)
    badge = models.CharField(max_length=10, blank=True)
    verdict = models.CharField(max_length=10, choices=Verdict.choices)
    is_flagged = models.BooleanField(default=False)
    flag_reason = models.CharField(max_length=20, blank=True)

    class Meta:
        db_table = "venues_checkin"
        verbose_name = _("check-in")
        verbose_name_plural = _("check-ins")
        indexes = [
            models.Index(fields=["venue", "checked_in_at"], name="checkin_venue_at_idx"),
            models.Index(fields=["person", "checked_in_at"], name="checkin_person_at_idx"),
            models.Index(fields=["account", "checked_in_at"], name="checkin_account_at_idx"),
            # The review list of flagged check-ins: a few rows among millions.
            models.Index(fields=["checked_in_at"], condition=Q(is_flagged=True), name="checkin_flagged_at_idx"),
        ]

    def __str__(self) -> str:
        return f"check-in {self.pk}"


class FlagReason(models.TextChoices):
    FAR_APART = "far_apart", _("Two venues too far apart for the time between them")
    BURST = "burst", _("Too many check-ins in a minute")


class FlagOutcome(models.TextChoices):
    GENUINE = "genuine", _("Genuine visit")
    MISUSE = "misuse", _("Misuse of the account or code")
    DEVICE = "device", _("Device or location problem")


class FlagReview(models.Model):
    """An epidemiologist's finding on a flagged check-in. It changes nobody's colour: a status
    changes only through the health app's evidence and its audited manual change.

    The check-in is named by (id, time), not by a foreign key (the check-in table is partitioned);
    the review is purged with its check-in. A later review of the same check-in corrects the earlier
    one: both rows are kept (and audited), the newest is the finding shown.
    """

    checkin_id = models.BigIntegerField(db_index=True)
    checked_in_at = models.DateTimeField(db_index=True)
    outcome = models.CharField(_("outcome"), max_length=10, choices=FlagOutcome.choices)
    note = models.CharField(_("note"), max_length=200, blank=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    reviewed_at = models.DateTimeField()

    class Meta:
        verbose_name = _("flag review")
        verbose_name_plural = _("flag reviews")
        constraints = [
            models.CheckConstraint(
                condition=Q(outcome__in=["genuine", "misuse", "device"]), name="flagreview_outcome_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.checkin_id}: {self.outcome}"


class CheckinRequest(models.Model):
    """One submitted check-in request, keyed by the client's idempotency key.

    It lives apart from the partitioned check-in table because a unique key there would have to
    include the partition column, and a retry comes with a later server time. Purged with the same
    retention as the check-ins.
    """

    client_key = models.CharField(max_length=64, unique=True)
    scan_key = models.CharField(max_length=64)
    account = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.client_key


class VenueDailyCount(models.Model):
    """Per-venue daily figures, kept after the check-in rows are purged."""

    venue = models.ForeignKey(Venue, on_delete=models.CASCADE, related_name="daily_counts")
    day = models.DateField()
    checkin_count = models.PositiveIntegerField(default=0)
    yellow_count = models.PositiveIntegerField(default=0)
    red_count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["venue", "day"], name="venuedailycount_unique")]

    def __str__(self) -> str:
        return f"{self.venue_id} {self.day}"


class SavedCompanion(models.Model):
    """Someone without a phone whom a resident checks in with their own scan (同行人员)."""

    owner = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="+")
    companion = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "companion"], name="savedcompanion_unique"),
            models.CheckConstraint(condition=~Q(owner=models.F("companion")), name="savedcompanion_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.owner_id} → {self.companion_id}"


class RetentionRun(models.Model):
    """One day's scheduled purge, claimed by the first server that starts it: every node runs the
    daily scheduler, and this row (unique per day) lets exactly one of them purge."""

    class Outcome(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    day = models.DateField(unique=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    owner = models.CharField(max_length=100)  # host and process id of the claimant
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    detail = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(outcome__in=["running", "done", "failed"]), name="retentionrun_outcome"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.outcome}"
