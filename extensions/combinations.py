"""The one list of valid answer combinations, and the names derived from the answers.

Copier loads this file (see `_jinja_extensions` in copier.yml); the template's tests import it,
so what the questions accept and what the tests generate can never drift apart.
"""

from __future__ import annotations

import itertools
import re
import secrets
from typing import Any, NamedTuple

from copier_template_extensions import ContextHook
from jinja2 import Environment
from jinja2.ext import Extension

FRAMEWORKS = ("fastapi", "django", "express")
PYTHON_FRAMEWORKS = ("fastapi", "django")
DATABASES = ("sqlite", "postgresql", "mysql")
POOLINGS = ("app", "none", "pgbouncer")
# How READMEs name each database.
DATABASE_LABELS = {"sqlite": "SQLite", "postgresql": "PostgreSQL", "mysql": "MySQL / MariaDB"}

# Pooling is a question for server databases only; SQLite runs in-process.
POOLING_FOR_EMBEDDED = "none"


class Combination(NamedTuple):
    framework: str
    database: str
    pooling: str

    @property
    def id(self) -> str:
        return "-".join(self)


def pooling_error(database: str, pooling: str) -> str:
    """Why `pooling` cannot go with `database`, or '' when it can."""
    if database == "sqlite" and pooling != POOLING_FOR_EMBEDDED:
        return "SQLite runs inside the service process: there is no pool to choose"
    if pooling == "pgbouncer" and database != "postgresql":
        return "PgBouncer fronts PostgreSQL only: choose 'app' or 'none' for this database"
    return ""


def combination_error(framework: str, database: str, pooling: str) -> str:
    if framework not in FRAMEWORKS:
        return f"framework must be one of {', '.join(FRAMEWORKS)}"
    if database not in DATABASES:
        return f"database must be one of {', '.join(DATABASES)}"
    if pooling not in POOLINGS:
        return f"pooling must be one of {', '.join(POOLINGS)}"
    return pooling_error(database, pooling)


def valid_combinations() -> list[Combination]:
    return [
        Combination(*answers)
        for answers in itertools.product(FRAMEWORKS, DATABASES, POOLINGS)
        if not combination_error(*answers)
    ]


def default_database_url(database: str, slug: str) -> str:
    name = slug.replace("-", "_")
    return {
        "sqlite": "sqlite:///./var/app.db",
        "postgresql": f"postgresql://postgres@127.0.0.1:5432/{name}",
        "mysql": f"mysql://root@127.0.0.1:3306/{name}",
    }[database]


def derived_names(answers: dict[str, Any]) -> dict[str, Any]:
    """Everything the templates need beyond the raw answers, computed once.

    Templates test these names, never the raw answers: one spelling per condition.
    """
    slug: str = answers["project_slug"]
    framework: str = answers["framework"]
    database: str = answers["database"]
    pooling: str = answers["pooling"] if database != "sqlite" else POOLING_FOR_EMBEDDED
    return {
        "python_package": re.sub(r"[^a-z0-9]+", "_", slug.lower()).strip("_"),
        "node_package": slug,
        "is_fastapi": framework == "fastapi",
        "is_django": framework == "django",
        "is_express": framework == "express",
        "is_python": framework in PYTHON_FRAMEWORKS,
        "is_sqlite": database == "sqlite",
        "is_postgresql": database == "postgresql",
        "is_mysql": database == "mysql",
        "database_label": DATABASE_LABELS[database],
        # The three poolings of a server database; SQLite uses none of them.
        "uses_pool": database != "sqlite" and pooling == "app",
        "uses_pgbouncer": pooling == "pgbouncer",
        "uses_fresh_connections": database != "sqlite" and pooling == "none",
        "default_database_url": default_database_url(database, slug),
    }


class TemplateGlobals(Extension):
    """Functions the questions' validators call, so they share this file's rules."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.globals["pooling_error"] = pooling_error
        environment.globals["combination_error"] = combination_error


class DerivedNames(ContextHook):
    """Adds the derived names and a fresh JWT secret (it only ever lands in `.env`)."""

    def hook(self, context: dict[str, Any]) -> None:
        if not {"project_slug", "framework", "database", "pooling"} <= context.keys():
            return  # still asking the questions
        context.update(derived_names(context))
        context["jwt_secret"] = secrets.token_urlsafe(48)
