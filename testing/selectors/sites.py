"""Sampling sites: queues, nearby sites for residents, the station's open tubes."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from django.db.models import Count

from territory.models import SEGMENT_WIDTH, Area, AreaKind
from testing.models import (
    Sample,
    Site,
    SiteStaff,
    Tube,
)

QUEUE_WINDOW = dt.timedelta(minutes=15)
# Seconds one sampler needs per person (swab, scan, label): the basis of the wait estimate.
SECONDS_PER_SAMPLE = 30

@dataclass
class SiteQueue:
    site: Site
    sampled_recently: int
    staff: int
    wait_minutes: int


def site_queues(sites: list[Site], *, now: dt.datetime) -> list[SiteQueue]:
    """People sampled in the last 15 minutes per site and an estimated wait: if the next quarter of an
    hour looks like the last, the queue ahead of a newcomer takes that many swabs of SECONDS_PER_SAMPLE
    shared by the site's samplers."""
    ids = [s.pk for s in sites]
    recent = dict(
        Sample.objects.filter(site_id__in=ids, sampled_at__gte=now - QUEUE_WINDOW, sampled_at__lte=now)
        .values("site_id")
        .annotate(n=Count("id"))
        .values_list("site_id", "n")
    )
    staff = dict(
        SiteStaff.objects.filter(site_id__in=ids).values("site_id").annotate(n=Count("id")).values_list("site_id", "n")
    )
    out = []
    for s in sites:
        n, k = recent.get(s.pk, 0), max(1, staff.get(s.pk, 0))
        out.append(SiteQueue(s, n, staff.get(s.pk, 0), math.ceil(n * SECONDS_PER_SAMPLE / k / 60)))
    return out


def sites_near(person: Any, *, now: dt.datetime) -> list[SiteQueue]:
    """Open rounds' sites in the resident's community, those of their own grid first."""
    path = person.area_path
    community = Area.objects.filter(
        pk__in=[int(path[i : i + SEGMENT_WIDTH]) for i in range(0, len(path), SEGMENT_WIDTH)], kind=AreaKind.COMMUNITY
    ).first()
    base = community.path if community else path[: 3 * SEGMENT_WIDTH]
    sites = list(Site.objects.filter(area_path__startswith=base, round__status="open").select_related("round", "area"))
    sites.sort(key=lambda s: (not path.startswith(s.area_path), s.name))
    return site_queues(sites, now=now)


def tube_view(tube: Tube) -> dict[str, Any]:
    return {"barcode": tube.barcode, "count": tube.member_count, "pool_size": tube.pool_size, "status": tube.status}


def open_tubes_at(site: Site, user: Any) -> list[Tube]:
    return list(Tube.objects.filter(site=site, opened_by=user, status="open").order_by("-opened_at")[:5])

