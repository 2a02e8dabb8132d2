from __future__ import annotations

from common.cache import LocMemCache


def test_delete_many_drops_exactly_the_named_keys_of_that_version():
    cache = LocMemCache("test-delete-many", {})
    cache.set_many({"a": 1, "b": 2, "c": 3})
    cache.set("a", "v2", version=2)
    cache.delete_many(["a", "b", "missing"])
    assert cache.get_many(["a", "b", "c"]) == {"c": 3}
    assert cache.get("a", version=2) == "v2"  # another version's key is another key
    cache.delete_many(["a"], version=2)
    assert cache.get("a", version=2) is None
