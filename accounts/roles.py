"""Roles (DESIGN §1) and what each may do. One table, read by the access helper and the navigation."""

from __future__ import annotations

from enum import StrEnum

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    HQ = "hq", _("Command HQ")
    SUBDISTRICT_ADMIN = "subdistrict_admin", _("Subdistrict admin")
    COMMUNITY_ADMIN = "community_admin", _("Community admin")
    GRID_LEADER = "grid_leader", _("Grid leader")
    GRID_WORKER = "grid_worker", _("Grid worker")
    BUILDING_LEADER = "building_leader", _("Building leader")
    CADRE = "cadre", _("Dispatched cadre")
    CHECKPOINT = "checkpoint", _("Checkpoint duty")
    VENUE_MANAGER = "venue_manager", _("Venue manager")
    SAMPLER = "sampler", _("Sampler")
    LAB = "lab", _("Laboratory")
    EPIDEMIOLOGIST = "epidemiologist", _("Epidemiologist (CDC)")
    CAMPUS_ADMIN = "campus_admin", _("Campus admin")
    COUNSELLOR = "counsellor", _("Counsellor")
    CLASS_REPORTER = "class_reporter", _("Class reporter")
    INVESTMENT_OFFICER = "investment_officer", _("Investment officer")


class Cap(StrEnum):
    """Capabilities. A user holds a capability within the territory of each membership that grants it."""

    PEOPLE_VIEW = "people.view"
    PEOPLE_EDIT = "people.edit"
    PEOPLE_IMPORT = "people.import"
    PEOPLE_EXPORT = "people.export"
    REVEAL_ID = "people.reveal_id"
    REVEAL_PHONE = "people.reveal_phone"
    TERRITORY_VIEW = "territory.view"
    AUDIT_VIEW = "audit.view"
    HEALTH_STATUS_CHANGE = "health.status_change"
    HEALTH_STATUS_APPROVE = "health.status_approve"
    HEALTH_RULES = "health.rules"
    HEALTH_VERIFY = "health.verify"
    TESTING_MANAGE = "testing.manage"  # open and close rounds, laboratories, approve corrections
    TESTING_SITES = "testing.sites"  # sampling sites and their staff
    TESTING_VIEW = "testing.view"  # coverage, ledgers
    TESTING_FIELD = "testing.field"  # pre-registration, home-sampling requests, call lists
    TESTING_SAMPLE = "testing.sample"  # sampler station, home-sampling team lists
    TESTING_LAB = "testing.lab"  # laboratory results
    VENUES_APPLY = "venues.apply"  # apply for a venue code (the manager, or grid staff for a shop)
    VENUES_MANAGE = "venues.manage"  # venues of the territory: posters, codes, sentinel, promotion
    VENUES_REVIEW = "venues.review"  # approve or reject venue applications
    VENUES_TRACE = "venues.trace"  # anyone's check-in trail (epidemiologists, for tracing)


_GRID = {Cap.PEOPLE_VIEW, Cap.PEOPLE_EDIT, Cap.REVEAL_PHONE, Cap.TERRITORY_VIEW}
_ADMIN = _GRID | {Cap.PEOPLE_IMPORT, Cap.PEOPLE_EXPORT, Cap.REVEAL_ID}

_TESTING_GRID = {Cap.TESTING_VIEW, Cap.TESTING_FIELD}
_TESTING_ADMIN = _TESTING_GRID | {Cap.TESTING_SITES}

_VENUES_GRID = {Cap.VENUES_APPLY, Cap.VENUES_MANAGE}
_VENUES_ADMIN = _VENUES_GRID | {Cap.VENUES_REVIEW}

CAPABILITIES: dict[str, frozenset[Cap]] = {
    Role.HQ: frozenset(
        _ADMIN | {Cap.AUDIT_VIEW} | _TESTING_ADMIN | {Cap.TESTING_MANAGE} | _VENUES_ADMIN
        | {Cap.HEALTH_STATUS_APPROVE, Cap.HEALTH_RULES, Cap.HEALTH_VERIFY}
    ),
    Role.SUBDISTRICT_ADMIN: frozenset(_ADMIN | _TESTING_ADMIN | _VENUES_ADMIN),
    Role.COMMUNITY_ADMIN: frozenset(_ADMIN | _TESTING_ADMIN | _VENUES_ADMIN),
    Role.GRID_LEADER: frozenset(_GRID | {Cap.PEOPLE_IMPORT, Cap.PEOPLE_EXPORT} | _TESTING_GRID | _VENUES_GRID),
    Role.GRID_WORKER: frozenset(_GRID | {Cap.PEOPLE_IMPORT} | _TESTING_GRID | _VENUES_GRID),
    Role.BUILDING_LEADER: frozenset(_GRID | _TESTING_GRID | _VENUES_GRID),
    Role.CADRE: frozenset(_GRID | _TESTING_GRID | _VENUES_GRID),
    Role.EPIDEMIOLOGIST: frozenset(
        {Cap.PEOPLE_VIEW, Cap.REVEAL_ID, Cap.REVEAL_PHONE, Cap.TERRITORY_VIEW, Cap.VENUES_TRACE}
        | {Cap.HEALTH_STATUS_CHANGE, Cap.HEALTH_VERIFY}
    ),
    Role.CHECKPOINT: frozenset({Cap.HEALTH_VERIFY}),
    Role.VENUE_MANAGER: frozenset({Cap.VENUES_APPLY, Cap.HEALTH_VERIFY}),
    Role.SAMPLER: frozenset({Cap.TESTING_SAMPLE, Cap.HEALTH_VERIFY}),
    Role.LAB: frozenset({Cap.TESTING_LAB}),
    Role.CAMPUS_ADMIN: frozenset({Cap.TERRITORY_VIEW, Cap.HEALTH_VERIFY}),
    Role.COUNSELLOR: frozenset(),
    Role.CLASS_REPORTER: frozenset(),
    Role.INVESTMENT_OFFICER: frozenset(),
}
