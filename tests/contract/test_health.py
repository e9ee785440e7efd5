"""Contract: GET /healthz and GET /readyz."""

import pytest
from combinations import HTTP_QUESTIONS
from support.blackbox import Service

pytestmark = pytest.mark.depends_on(*HTTP_QUESTIONS)


def test_liveness(service: Service) -> None:
    response = service.client().get("/healthz")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"status": "ok"}


def test_readiness_checks_the_database(service: Service) -> None:
    response = service.client().get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}
