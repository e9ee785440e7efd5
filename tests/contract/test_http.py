"""Contract: request ids, security headers, CORS, rate limit, OpenAPI and docs."""

import re

import pytest
from combinations import HTTP_QUESTIONS
from support.blackbox import Service

pytestmark = pytest.mark.depends_on(*HTTP_QUESTIONS)

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_a_valid_request_id_is_kept(service: Service) -> None:
    response = service.client().get("/healthz", headers={"X-Request-ID": "Abc-1.2_3"})

    assert response.headers["x-request-id"] == "Abc-1.2_3"


def test_otherwise_a_uuid4_is_made(service: Service) -> None:
    client = service.client()

    missing = client.get("/healthz")
    invalid = client.get("/healthz", headers={"X-Request-ID": "spaces are not allowed"})
    too_long = client.get("/healthz", headers={"X-Request-ID": "x" * 129})

    made = [response.headers["x-request-id"] for response in (missing, invalid, too_long)]
    assert all(UUID4.match(request_id) for request_id in made)
    assert len(set(made)) == 3


CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


def test_security_headers_on_every_response(service: Service) -> None:
    client = service.client()
    responses = (
        client.get("/healthz"),
        client.get("/nowhere"),
        client.get("/openapi.json"),
        client.get("/docs"),
        client.post("/api/v1/users", content=b"{", headers={"content-type": "application/json"}),
    )
    for response in responses:
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"]
        assert response.headers.get_list("content-security-policy") == [CONTENT_SECURITY_POLICY]


def test_no_cors_unless_configured(service: Service) -> None:
    response = service.client().get("/healthz", headers={"Origin": "https://app.example"})

    assert "access-control-allow-origin" not in response.headers


@pytest.mark.depends_on("framework")
def test_cors_for_configured_origins_only(strict_service: Service) -> None:
    client = strict_service.client()

    allowed = client.get("/healthz", headers={"Origin": "https://admin.example"})
    other = client.get("/healthz", headers={"Origin": "https://evil.example"})
    preflight = client.options(
        "/api/v1/tasks",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )

    assert allowed.headers["access-control-allow-origin"] == "https://admin.example"
    assert "access-control-allow-origin" not in other.headers
    assert preflight.status_code in (200, 204)
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    assert "POST" in preflight.headers["access-control-allow-methods"]


# Counted in the process, per client address: the database plays no part.
@pytest.mark.depends_on("framework")
def test_rate_limit_per_client_on_the_api(limited_service: Service) -> None:
    client = limited_service.client()
    statuses = []
    for _ in range(12):
        response = client.get("/api/v1/users/me")
        statuses.append(response.status_code)
        if response.status_code == 429:
            break

    # Five per window; a window boundary during the loop allows at most five more.
    assert statuses[-1] == 429, statuses
    assert set(statuses[:-1]) == {401}
    assert len(statuses) <= 11
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert response.headers["content-type"] == "application/problem+json"
    # Health checks are not rate limited.
    assert client.get("/healthz").status_code == 200


def test_openapi_document_and_docs(service: Service) -> None:
    client = service.client()

    spec = client.get("/openapi.json")
    docs = client.get("/docs")

    assert spec.status_code == 200
    document = spec.json()
    assert document["openapi"].startswith("3.")
    for path in ("/api/v1/users", "/api/v1/auth/token", "/api/v1/users/me", "/api/v1/tasks"):
        assert path in document["paths"]
    assert any(path.startswith("/api/v1/tasks/{") for path in document["paths"])
    assert docs.status_code == 200
    assert docs.headers["content-type"].startswith("text/html")
