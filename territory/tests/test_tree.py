import pytest

from common.errors import DomainError
from territory.models import Area, AreaKind
from territory.selectors import labels_for_paths, path_range
from territory.services import area_create


def test_paths_nest_and_subtree_is_a_range(district):
    assert district.grid_a.path.startswith(district.community.path)
    in_a = set(Area.objects.subtree(district.grid_a.path).values_list("name", flat=True))
    assert in_a == {"1网格", "1号楼", "1单元", "101"}
    assert Area.objects.subtree(district.district.path).count() == Area.objects.count()


def test_range_upper_bound_carries_over_nines():
    assert path_range("00000009") == ("00000009", "00000010")
    assert path_range("0000000100000099") == ("0000000100000099", "0000000100000100")


def test_kinds_must_descend(district):
    with pytest.raises(DomainError) as exc:
        area_create(parent=district.grid_a, kind=AreaKind.COMMUNITY, name="错层")
    assert exc.value.code == "area_kind_order"


def test_same_name_twice_under_one_parent_is_refused(district):
    with pytest.raises(DomainError) as exc:
        area_create(parent=district.community, kind=AreaKind.GRID1, name="1网格")
    assert exc.value.code == "area_exists"


def test_address_labels_read_in_one_query(district, django_assert_num_queries):
    with django_assert_num_queries(1):
        labels = labels_for_paths([district.household_a.path, district.household_b.path])
    assert labels[district.household_a.path] == "接庄社区 / 1网格 / 1号楼 / 1单元 / 101"
