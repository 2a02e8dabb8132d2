"""Open the demo round: 第四轮 over the demo district, 10 in 1, with a site at 接庄社区15网格 staffed by the
demo ``sampler`` account, a laboratory linked to the demo ``lab`` account, and a home-sampling team of
the grid. Idempotent.

    manage.py testing_demo
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from audit.services import Actor
from territory.models import Area, AreaKind
from territory.selectors import subtree_q
from testing import services
from testing.models import Round, Site

DISTRICT = "济宁高新区"
GRID = "接庄社区15网格"
LAB = "济宁高新区核酸检测中心"
ROUND = "第四轮"
SITE = "接庄社区15网格检测点"


class Command(BaseCommand):
    help = "Open the demo testing round (第四轮) with a site at 接庄社区15网格 and a laboratory (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        actor = Actor.system()
        district = Area.objects.filter(parent=None, kind=AreaKind.DISTRICT, name=DISTRICT).first()
        if district is None:
            raise CommandError("No demo district: run `manage.py demo_district` first.")
        grid = Area.objects.filter(subtree_q(district.path, "path"), name=GRID).first()
        if grid is None:
            raise CommandError(f"No {GRID} in the district.")
        lab = services.laboratory_create(actor=actor, name=LAB, now=now)
        User = get_user_model()
        lab_user = User.objects.filter(username="lab").first()
        if lab_user is not None:
            services.laboratory_member_add(actor=actor, laboratory=lab, user=lab_user, now=now)
        rnd = Round.objects.filter(area=district, name=ROUND).first()
        if rnd is None:
            rnd = services.round_create(
                actor=actor, name=ROUND, area=district, pool_size=10, starts_at=now, laboratory=lab, now=now
            )
        site = Site.objects.filter(round=rnd, name=SITE).first()
        if site is None:
            site = services.site_create(
                actor=actor,
                rnd=rnd,
                name=SITE,
                location="接庄社区15网格 社区广场",
                grid=grid,
                hours="07:00–19:00",
                laboratory=lab,
                now=now,
            )
        sampler = User.objects.filter(username="sampler").first()
        if sampler is not None:
            services.site_staff_add(actor=actor, site=site, user=sampler, now=now)
        members = list(User.objects.filter(username__in=["sampler", "gridworker"]))
        services.home_team_create(actor=actor, rnd=rnd, name="15网格上门采样队", area=grid, members=members, now=now)
        self.stdout.write(
            f"{rnd.name} (round {rnd.pk}, {rnd.get_status_display()}), site {site.name} ({site.pk}), "
            f"laboratory {lab.name}{' linked to account lab' if lab_user else ''}."
        )
        self.stdout.write(
            f"  sampler station: /testing/station/{site.pk}/   laboratory: /testing/lab/   "
            f"coverage: /testing/rounds/{rnd.pk}/coverage/"
        )
