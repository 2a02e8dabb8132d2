"""Every detail page and every API endpoint that names an object, asked by a user of another
territory, answers 404 — and the same request by the owner's grid worker works, so the 404 is real.

The table must cover every URL pattern with a parameter: a new route that is not listed here
fails `test_every_parameterised_route_is_covered` until its case is added.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from config.api import api


@dataclass
class Case:
    kwargs: Callable[[Any], dict[str, Any]]
    method: str = "get"
    data: dict[str, Any] = field(default_factory=dict)
    owner_status: int = 200


# URL name (pages) or "METHOD /api/v1/path" (API) -> how to build the request for an object of grid A.
CASES: dict[str, Case] = {
    "people:detail": Case(lambda w: {"pk": w["person_a"].pk}),
    "people:edit": Case(lambda w: {"pk": w["person_a"].pk}),
    "people:reveal": Case(lambda w: {"pk": w["person_a"].pk}, method="post", data={"field": "phone", "reason": "回访"}),
    "people:household": Case(lambda w: {"pk": w["district"].household_a.pk}),
    "territory:area": Case(lambda w: {"pk": w["district"].grid_a.pk}),
    "GET /api/v1/people/{person_id}": Case(lambda w: {"person_id": w["person_a"].pk}),
    "POST /api/v1/people/{person_id}/reveal": Case(
        lambda w: {"person_id": w["person_a"].pk}, method="post", data={"field": "phone", "reason": "回访"}
    ),
    "GET /api/v1/territory/areas/{area_id}": Case(lambda w: {"area_id": w["district"].grid_a.pk}),
}

# Routes with parameters that are not objects of a territory, and why.
EXEMPT: dict[str, str] = {
    "admin:*": "Django admin: superusers only, not a territory view",
    "set_language": "no object",
}


def _page_patterns(resolver: URLResolver, prefix: str = "") -> list[str]:
    names = []
    for p in resolver.url_patterns:
        if isinstance(p, URLResolver):
            ns = f"{p.namespace}:" if p.namespace else prefix
            if p.namespace == "api" or p.namespace == "admin":
                continue
            names += _page_patterns(p, ns)
        elif isinstance(p, URLPattern) and p.pattern.converters and p.name:
            names.append(prefix + p.name)
    return names


def _api_operations() -> list[str]:
    schema = api.get_openapi_schema()
    ops = []
    for path, methods in schema["paths"].items():
        if "{" in path:
            ops += [f"{m.upper()} {path}" for m in methods]
    return ops


def test_every_parameterised_route_is_covered() -> None:
    routes = _page_patterns(get_resolver()) + _api_operations()
    missing = [r for r in routes if r not in CASES and r not in EXEMPT]
    assert not missing, f"add an outsider case for: {missing}"


def _request(client: Any, key: str, case: Case, world: dict[str, Any]) -> Any:
    from django.urls import reverse

    kwargs = case.kwargs(world)
    if key.split(" ")[0] in {"GET", "POST", "PUT", "PATCH", "DELETE"}:
        url = key.split(" ", 1)[1].format(**kwargs)
        return (
            getattr(client, case.method)(url, case.data, content_type="application/json")
            if case.method != "get"
            else client.get(url)
        )
    url = reverse(key, kwargs=kwargs)
    return getattr(client, case.method)(url, case.data)


@pytest.mark.parametrize("key", sorted(CASES))
def test_outsider_gets_404_and_owner_does_not(client, key, district, alice, charlie, person_a):
    world = {"district": district, "person_a": person_a}
    case = CASES[key]
    client.force_login(charlie)
    response = _request(client, key, case, world)
    assert response.status_code == 404, (key, response.status_code)
    client.force_login(alice)
    response = _request(client, key, case, world)
    assert response.status_code == case.owner_status, (key, response.status_code)
