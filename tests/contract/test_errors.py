"""Contract: every error is RFC 9457 problem+json, and nothing internal leaks."""

import pytest
from combinations import HTTP_QUESTIONS
from support.blackbox import PROBLEM_KEYS, Service, assert_problem, bearer

pytestmark = pytest.mark.depends_on(*HTTP_QUESTIONS)


def test_malformed_json_is_a_bad_request(service: Service) -> None:
    response = service.client().post(
        "/api/v1/users", content=b'{"username": "x",', headers={"content-type": "application/json"}
    )

    assert_problem(response, 400)


def test_unknown_route_is_not_found(service: Service) -> None:
    problem = assert_problem(service.client().get("/api/v1/nothing-here"), 404)

    assert set(problem) == PROBLEM_KEYS


def test_wrong_method_is_not_allowed(service: Service) -> None:
    assert_problem(service.client().delete("/api/v1/users"), 405)


def test_a_body_over_the_limit_is_too_large(service: Service) -> None:
    body = b'{"title": "' + b"x" * 1_048_576 + b'"}'
    client = service.client()
    client.headers.update(bearer(client))

    response = client.post(
        "/api/v1/tasks", content=body, headers={"content-type": "application/json"}
    )

    assert_problem(response, 413)


@pytest.mark.depends_on("framework")
def test_the_body_limit_is_configurable(strict_service: Service) -> None:
    response = strict_service.client().post("/api/v1/users", json={"username": "u" * 2000})

    assert_problem(response, 413)


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"username=alice&password=secret123", "application/x-www-form-urlencoded"),
        (b"alice", "text/plain"),
    ],
)
def test_a_body_that_is_not_json_is_unsupported(
    service: Service, content: bytes, content_type: str
) -> None:
    response = service.client().post(
        "/api/v1/users", content=content, headers={"content-type": content_type}
    )

    assert_problem(response, 415)


def test_invalid_fields_list_each_field(service: Service) -> None:
    response = service.client().post("/api/v1/users", json={"username": "a", "password": "b"})

    problem = assert_problem(response, 422)
    assert sorted(error["field"] for error in problem["errors"]) == ["password", "username"]


def test_unauthorized_says_how_to_authenticate(service: Service) -> None:
    response = service.client().get("/api/v1/tasks")

    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_wrong_method_lists_every_allowed_method(service: Service) -> None:
    client = service.client()
    client.headers.update(bearer(client))

    response = client.put("/api/v1/tasks/1", json={"title": "x"})

    assert_problem(response, 405)
    allowed = {method.strip() for method in response.headers["allow"].split(",")}
    assert {"GET", "PATCH", "DELETE"} <= allowed
    assert "PUT" not in allowed
