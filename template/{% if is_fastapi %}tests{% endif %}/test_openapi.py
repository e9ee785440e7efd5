"""The OpenAPI document and its docs page: what they show is what the service accepts."""

import re
from collections.abc import Iterator

import pytest
from httpx import AsyncClient

from tests.conftest import Login

pytestmark = pytest.mark.anyio


def _refs(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


async def test_every_openapi_reference_resolves(client: AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()

    refs = set(_refs(spec))

    assert refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in spec["components"]["schemas"], ref


async def test_openapi_documents_every_error_as_a_problem(client: AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()

    for path, operations in spec["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            expected = {"422", "429", "431", "500", "503"}
            if "requestBody" in operation:
                expected |= {"400", "413", "415"}
            if "security" in operation:
                expected.add("401")
            if "{" in path:
                expected.add("404")
            responses = operation["responses"]
            assert expected <= set(responses), (method, path)
            for status in expected:
                content = responses[status]["content"]
                assert set(content) == {"application/problem+json"}, (method, path, status)
    assert "HTTPValidationError" not in spec["components"]["schemas"]


async def test_openapi_bounds_and_nullability_match_what_is_accepted(client: AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    task = spec["paths"]["/api/v1/tasks/{task_id}"]["get"]["parameters"][0]["schema"]
    listing = {
        parameter["name"]: parameter["schema"]
        for parameter in spec["paths"]["/api/v1/tasks"]["get"]["parameters"]
    }

    assert (task["minimum"], task["maximum"]) == (1, 2**31 - 1)
    assert (listing["limit"]["minimum"], listing["limit"]["maximum"]) == (1, 100)
    assert (listing["offset"]["minimum"], listing["offset"]["maximum"]) == (0, 2**31 - 1)
    update = schemas["TaskUpdate"]["properties"]
    assert "anyOf" not in update["title"]
    assert "anyOf" not in update["status"]
    assert {"type": "null"} in update["description"]["anyOf"]


async def test_docs_work_offline_under_the_content_security_policy(client: AsyncClient) -> None:
    page = await client.get("/docs")
    sources = re.findall(r'<(?:script|link)[^>]* (?:src|href)="([^"]+)"', page.text)

    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    # Every script and style is a file of this service: nothing inline, nothing from a CDN.
    assert re.findall(r"<script[^>]*>\s*[^<\s]", page.text) == []
    assert "<style" not in page.text
    assert "style=" not in page.text
    assert sources
    for source in sources:
        assert source.startswith("/"), source
        asset = await client.get(source)
        assert asset.status_code == 200, source
        assert asset.content, source


async def test_a_repeated_query_parameter_is_422(client: AsyncClient, login: Login) -> None:
    headers = await login("alice")

    response = await client.get("/api/v1/tasks?offset=1&offset=2", headers=headers)

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["offset"]
