"""Every question's validator, with good and bad answers, and the refused combinations."""

from __future__ import annotations

from pathlib import Path

import pytest
from combinations import (
    BROKERS,
    DATABASES,
    FRAMEWORKS,
    POOLINGS,
    QUESTIONS,
    Combination,
    choices,
    combination_error,
    covering,
    valid_combinations,
)
from support.projects import answers, copy_project

pytestmark = pytest.mark.filterwarnings("ignore::copier.errors.DirtyLocalWarning")


def render_error(template: Path, destination: Path, **data: str) -> str:
    """The validation message copier gives for these answers ('' when they are accepted)."""
    try:
        copy_project(template, destination, **data)
    except ValueError as error:
        assert not destination.exists() or not any(destination.iterdir()), "half-rendered"
        return str(error)
    return ""


@pytest.mark.parametrize(
    ("question", "value", "message"),
    [
        ("project_name", "", "project_name must be 1 to 64 characters"),
        ("project_name", "x" * 65, "project_name must be 1 to 64 characters"),
        ("project_slug", "My Service", "project_slug must be kebab-case"),
        ("project_slug", "9lives", "project_slug must be kebab-case"),
        ("project_slug", "double--dash", "project_slug must be kebab-case"),
        ("project_slug", "a" * 65, "project_slug must be kebab-case"),
        ("description", "d" * 201, "description must be a single line"),
        ("description", "two\nlines", "description must be a single line"),
        ("author_name", " ", "author_name must be 1 to 100 characters"),
        ("author_email", "not-an-email", "author_email must look like name@example.com"),
        ("author_email", "a b@example.com", "author_email must look like name@example.com"),
        # Choices: copier itself lists the valid ones.
        ("framework", "rails", "'rails' is not in ['fastapi', 'django', 'express']"),
        ("database", "oracle", "'oracle' is not in ['sqlite', 'postgresql', 'mysql']"),
        ("pooling", "magic", "'magic' is not in ['app', 'none', 'pgbouncer']"),
    ],
)
def test_bad_answers_are_refused_with_the_fix(
    copier_template: Path, tmp_path: Path, question: str, value: str, message: str
) -> None:
    data = {"database": "postgresql", question: value}

    error = render_error(copier_template, tmp_path / "out", **data)

    assert message in error


@pytest.mark.parametrize(
    ("question", "value"),
    [
        ("project_name", "Billing API"),
        ("project_slug", "billing-api2"),
        ("description", 'Bills, invoices and "quotes"'),
        ("author_name", "Ada O'Neil"),
        ("author_email", "ada+dev@example.co.uk"),
    ],
)
def test_good_answers_are_accepted(
    copier_template: Path, tmp_path: Path, question: str, value: str
) -> None:
    assert render_error(copier_template, tmp_path / "out", **{question: value}) == ""


def test_slug_is_derived_from_the_name(copier_template: Path, tmp_path: Path) -> None:
    copy_project(copier_template, tmp_path, project_name="Billing & Payments API!")

    assert 'name = "billing-payments-api"' in (tmp_path / "pyproject.toml").read_text()
    assert (tmp_path / "src" / "billing_payments_api").is_dir()


REFUSED = [
    (framework, database, pooling)
    for framework in FRAMEWORKS
    for database in DATABASES
    for pooling in POOLINGS
    if combination_error(framework, database, pooling)
]


# What a combination without WebSocket or gRPC answers to the questions that come with them.
NO_WEBSOCKET = ("False", "memory")
NO_GRPC = "False"


def test_the_combination_list_is_what_the_questions_accept() -> None:
    """Without WebSocket, one combination per accepted (framework, database, pooling); with it,
    one per broker besides; each with and without gRPC."""
    accepted = len(FRAMEWORKS) * len(DATABASES) * len(POOLINGS) - len(REFUSED)
    assert len(valid_combinations()) == accepted * (1 + len(BROKERS)) * 2
    assert Combination("fastapi", "sqlite", "none", *NO_WEBSOCKET, NO_GRPC) in valid_combinations()
    assert Combination("express", "mysql", "app", "True", "redis", "True") in valid_combinations()
    assert Combination("django", "mysql", "app", *NO_WEBSOCKET, "True") in valid_combinations()
    assert ("fastapi", "mysql", "pgbouncer") in REFUSED


def test_combination_ids_name_a_feature_only_when_it_is_on() -> None:
    ids = {combination.id for combination in valid_combinations()}

    assert {"fastapi-sqlite-none", "django-postgresql-app-websocket-redis"} <= ids
    assert not [i for i in ids if "False" in i or "True" in i]


def test_every_choice_of_every_question_is_in_a_combination() -> None:
    """The combinations come from copier.yml's questions: a choice no valid combination takes
    would never be generated nor tested."""
    combinations = valid_combinations()
    assert list(QUESTIONS) == list(Combination._fields)
    for name in QUESTIONS:
        assert {getattr(c, name) for c in combinations} == set(choices(name)), name


@pytest.mark.parametrize(
    "questions",
    [(), ("framework",), ("framework", "database"), ("database", "pooling"), tuple(QUESTIONS)],
    ids=lambda questions: "+".join(questions) or "none",
)
def test_covering_gives_each_set_of_answers_once(questions: tuple[str, ...]) -> None:
    """What a `depends_on` check runs on: every set of answers to its questions that a valid
    combination has, each exactly once, the others answered by default where they can be."""
    chosen = covering(questions)

    def project(combination: Combination) -> tuple[str, ...]:
        return tuple(getattr(combination, name) for name in questions)

    assert set(chosen) <= set(valid_combinations())
    assert sorted(map(project, chosen)) == sorted(set(map(project, valid_combinations())))
    if not questions:
        assert chosen == [Combination("fastapi", "sqlite", "none", *NO_WEBSOCKET, NO_GRPC)]
    if questions == ("framework", "database"):
        assert Combination("django", "postgresql", "app", *NO_WEBSOCKET, NO_GRPC) in chosen
    if questions == tuple(QUESTIONS):
        assert chosen == valid_combinations()


@pytest.mark.parametrize(
    ("framework", "database", "pooling"),
    [refused for refused in REFUSED if refused[1] != "sqlite"],
    ids="-".join,
)
def test_refused_combinations_say_why(
    copier_template: Path, tmp_path: Path, framework: str, database: str, pooling: str
) -> None:
    error = render_error(
        copier_template, tmp_path / "out", framework=framework, database=database, pooling=pooling
    )

    assert "PgBouncer fronts PostgreSQL only" in error


def test_the_broker_is_not_asked_without_websocket(copier_template: Path, tmp_path: Path) -> None:
    """A broker answer given with WebSocket off is neither stored nor rendered."""
    copy_project(copier_template, tmp_path, websocket="false", websocket_broker="redis")

    assert "websocket_broker" not in (tmp_path / ".copier-answers.yml").read_text()
    assert "REDIS" not in (tmp_path / ".env.example").read_text()


def test_pooling_is_not_asked_for_sqlite(copier_template: Path, tmp_path: Path) -> None:
    """SQLite has no pooling question: a pooling answer given anyway is ignored, not stored."""
    copy_project(copier_template, tmp_path, database="sqlite")

    assert "pooling" not in (tmp_path / ".copier-answers.yml").read_text()


def test_answers_helper_matches_copier(copier_template: Path, tmp_path: Path) -> None:
    combination = valid_combinations()[-1]
    copy_project(copier_template, tmp_path, **answers(combination))

    recorded = (tmp_path / ".copier-answers.yml").read_text()
    assert f"database: {combination.database}" in recorded
