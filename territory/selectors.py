"""Reads over the territory tree."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q

from territory.models import SEGMENT_WIDTH, Area, AreaKind


def segment(area_id: int) -> str:
    return f"{area_id:0{SEGMENT_WIDTH}d}"


def path_range(path: str) -> tuple[str, str]:
    """The half-open range of paths in the subtree of ``path``.

    Paths are digit strings of fixed-width segments, so "has prefix P" equals "P <= x < P+1"
    compared as strings; digits sort the same under every collation, which lets both databases
    use a plain index (LIKE 'P%' would not on PostgreSQL under a non-C collation).
    """
    if not path or not path.isdigit():
        raise ValueError(f"not an area path: {path!r}")
    upper = str(int(path) + 1).zfill(len(path))
    return path, upper


def subtree_q(path: str, field: str = "area_path") -> Q:
    low, high = path_range(path)
    return Q(**{f"{field}__gte": low, f"{field}__lt": high})


def is_within(path: str, ancestor_path: str) -> bool:
    return path.startswith(ancestor_path)


def area_get(area_id: int) -> Area:
    return Area.objects.get(pk=area_id)


def children_of(area: Area) -> list[Area]:
    return list(Area.objects.filter(parent=area).order_by("name"))


def ancestors_of(area: Area) -> list[Area]:
    ids = area.ancestor_ids()
    by_id = {a.id: a for a in Area.objects.filter(id__in=ids)}
    return [by_id[i] for i in ids if i in by_id]


def labels_for_paths(paths: Iterable[str], *, from_kind: str = AreaKind.COMMUNITY) -> dict[str, str]:
    """A readable address for each path ("接庄社区 / 15网格 / 3号楼 / 2单元 / 301"), in one query."""
    paths = set(paths)
    ids: set[int] = set()
    for p in paths:
        ids.update(int(p[i : i + SEGMENT_WIDTH]) for i in range(0, len(p), SEGMENT_WIDTH))
    nodes = {a.id: a for a in Area.objects.filter(id__in=ids).only("id", "name", "kind")}
    start = [k.value for k in AreaKind].index(from_kind)
    order = [k.value for k in AreaKind]
    labels = {}
    for p in paths:
        parts = []
        for i in range(0, len(p), SEGMENT_WIDTH):
            node = nodes.get(int(p[i : i + SEGMENT_WIDTH]))
            if node and order.index(node.kind) >= start:
                parts.append(node.name)
        labels[p] = " / ".join(parts)
    return labels


def find_child(parent: Area, name: str) -> Area | None:
    return Area.objects.filter(parent=parent, name=name).first()


def grids_in(path: str) -> list[Area]:
    return list(Area.objects.subtree(path).filter(kind__in=[AreaKind.GRID1, AreaKind.GRID2]).order_by("path"))
