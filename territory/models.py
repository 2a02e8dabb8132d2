"""The territory tree: 区 → 街道 → 社区 → 一级网格 → 二级网格 → 小区/楼栋 → 单元 → 户.

Every node carries a materialised ``path``: the zero-padded ids of its ancestors and itself, all
digits, fixed width. A subtree is then one range scan on an ordinary B-tree index,
``path >= P AND path < P+1``, on SQLite and on PostgreSQL whatever the collation (see selectors).
Rows of other apps that belong to a place (people, venues, sites) copy the path of their node into
their own ``area_path`` column, so their lists are scoped without a join.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

SEGMENT_WIDTH = 8


class AreaKind(models.TextChoices):
    DISTRICT = "district", _("District")
    SUBDISTRICT = "subdistrict", _("Subdistrict")
    COMMUNITY = "community", _("Community")
    GRID1 = "grid1", _("Level-1 grid")
    GRID2 = "grid2", _("Level-2 grid")
    ESTATE = "estate", _("Estate")
    BUILDING = "building", _("Building")
    UNIT = "unit", _("Unit")
    HOUSEHOLD = "household", _("Household")


# The order of the levels; a child is always of a later kind than its parent (an estate may be
# skipped: a building can sit right under a grid).
KIND_ORDER = [k.value for k in AreaKind]


class AreaQuerySet(models.QuerySet["Area"]):
    def subtree(self, path: str) -> AreaQuerySet:
        from territory.selectors import path_range

        low, high = path_range(path)
        return self.filter(path__gte=low, path__lt=high)

    def households(self) -> AreaQuerySet:
        return self.filter(kind=AreaKind.HOUSEHOLD)


class Area(models.Model):
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    kind = models.CharField(max_length=16, choices=AreaKind.choices)
    name = models.CharField(max_length=100)
    path = models.CharField(max_length=SEGMENT_WIDTH * 10, db_index=True, editable=False)
    depth = models.PositiveSmallIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AreaQuerySet.as_manager()

    class Meta:
        verbose_name = _("area")
        verbose_name_plural = _("areas")
        constraints = [
            models.UniqueConstraint(fields=["parent", "name"], name="area_unique_name_in_parent"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_household(self) -> bool:
        return self.kind == AreaKind.HOUSEHOLD

    def ancestor_ids(self) -> list[int]:
        """Ids of the ancestors and self, root first, read from the path (no query)."""
        w = SEGMENT_WIDTH
        return [int(self.path[i : i + w]) for i in range(0, len(self.path), w)]
