"""The one list of valid answer combinations, and the names derived from the answers.

Copier loads this file (see `_jinja_extensions` in copier.yml); the template's tests import it,
so what the questions accept and what the tests generate can never drift apart.
"""

from __future__ import annotations

import itertools
import re
import secrets
from collections import namedtuple
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from copier_template_extensions import ContextHook
from jinja2 import Environment, StrictUndefined
from jinja2.ext import Extension

COPIER_YML = Path(__file__).resolve().parent.parent / "copier.yml"


def _choice_questions() -> dict[str, dict[str, Any]]:
    """copier.yml's questions that offer choices, in the order it asks them: their answers make
    a combination, so a new question or choice there is a new combination here."""
    spec = yaml.safe_load(COPIER_YML.read_text(encoding="utf-8"))
    return {
        name: question
        for name, question in spec.items()
        if not name.startswith("_") and isinstance(question, dict) and "choices" in question
    }


QUESTIONS = _choice_questions()


def _choices(question: dict[str, Any]) -> list[tuple[str, str]]:
    """(value, validator) for each choice of a question; '' where the choice has none."""
    found = []
    for choice in question["choices"].values():
        if isinstance(choice, dict):
            found.append((str(choice["value"]), choice.get("validator", "")))
        else:
            found.append((str(choice), ""))
    return found


def choices(name: str) -> tuple[str, ...]:
    return tuple(value for value, _ in _choices(QUESTIONS[name]))


FRAMEWORKS = choices("framework")
PYTHON_FRAMEWORKS = ("fastapi", "django")
DATABASES = choices("database")
POOLINGS = choices("pooling")
BROKERS = choices("websocket_broker")
# What the HTTP side of a service depends on: WebSocket and gRPC add listeners and change
# nothing else.
HTTP_QUESTIONS = ("framework", "database", "pooling")
# How READMEs name each database.
DATABASE_LABELS = {"sqlite": "SQLite", "postgresql": "PostgreSQL", "mysql": "MySQL / MariaDB"}

# Pooling is a question for server databases only; SQLite runs in-process.
POOLING_FOR_EMBEDDED = "none"
# What DATABASE_URL looks like for each database, in every framework.
DATABASE_URL_FORMS = {
    "sqlite": "sqlite:///./var/app.db",
    "postgresql": "postgresql://user:password@host:5432/name",
    "mysql": "mysql://user:password@host:3306/name",
}


class MakeVerb(NamedTuple):
    """A Makefile verb, worded once for its help, the README and the after-copy message."""

    name: str
    does: str
    arguments: str = ""  # what the verb needs on the command line

    @property
    def usage(self) -> str:
        return f"make {self.name} {self.arguments}".rstrip()

    @property
    def help(self) -> str:
        return f"{self.does}: {self.usage}" if self.arguments else self.does


# What `make migration` really does: only the Python frameworks read the models.
MIGRATION_DOES = {
    "fastapi": "autogenerates an Alembic revision from the models' changes, compared with the"
    " migrated database",
    "django": "generates a migration from the models' changes (makemigrations)",
    "express": "writes an empty Kysely migration to fill in, in src/db/migrations",
}


def make_verbs(framework: str, grpc: bool = False) -> tuple[MakeVerb, ...]:
    """The contract's verbs, in the order `make help` lists them."""
    lint = "runs the linter, the formatter check and the type checker, all strict"
    migrate = "applies pending migrations, creating the database if it is missing"
    if framework == "django":
        lint += ", then Django's migration and deployment checks"
    if framework == "express":
        migrate = f"builds with tsc, then {migrate}"
    if grpc:
        lint = f"lints proto/, then {lint}"
    install = MakeVerb("install", "creates the environment from nothing")
    if grpc:
        install = install._replace(does=f"{install.does}, gRPC stubs included")
    proto = (MakeVerb("proto", "generates the typed gRPC stubs from proto/"),) if grpc else ()
    return (
        MakeVerb("help", "lists these verbs"),
        install,
        *proto,
        MakeVerb(
            "dev", "applies pending migrations, then serves with auto-reload and readable logs"
        ),
        MakeVerb("run", "applies pending migrations, then serves until SIGTERM"),
        MakeVerb(
            "test", "runs the tests against DATABASE_URL (a temporary SQLite database when unset)"
        ),
        MakeVerb("lint", lint),
        MakeVerb("format", "formats and fixes in place"),
        MakeVerb("migrate", migrate),
        MakeVerb("migration", MIGRATION_DOES[framework], 'name="what it changes"'),
    )


class Setting(NamedTuple):
    """An environment variable: the same name and default in every framework."""

    name: str
    default: str  # as `.env` spells it; empty means unset


class SettingGroup(NamedTuple):
    """Variables that share one explanation, in `.env.example` and in the README's table."""

    settings: tuple[Setting, ...]
    meaning: str
    when: str = ""  # a derived name that must be true for these variables to exist
    starts_section: bool = False  # `.env.example` puts a blank line before it


# Every setting the service reads, once; settings.py and config.ts must match
# (tests/test_documentation.py).
# DATABASE_URL's meaning and example depend on the database: see environment().
ENVIRONMENT = (
    SettingGroup(
        (Setting("APP_ENV", "development"),),
        "development, test or production; production refuses to start with the default JWT secret.",
    ),
    SettingGroup((Setting("HOST", "127.0.0.1"), Setting("PORT", "8000")), "HTTP listener."),
    SettingGroup((Setting("GRPC_PORT", "50051"),), "gRPC listener, on HOST too.", when="uses_grpc"),
    # Explained for the chosen database by environment().
    SettingGroup((Setting("DATABASE_URL", DATABASE_URL_FORMS["sqlite"]),), "", starts_section=True),
    SettingGroup(
        (
            Setting("DB_POOL_SIZE", "10"),
            Setting("DB_POOL_MAX_OVERFLOW", "10"),
            Setting("DB_POOL_TIMEOUT_S", "30"),
            Setting("DB_POOL_RECYCLE_S", "1800"),
        ),
        "In-process pool: connections kept open, overflow above that, wait for a free one,"
        " recycle age.",
        when="uses_pool",
    ),
    SettingGroup(
        (Setting("DB_CONNECT_TIMEOUT_S", "5"), Setting("DB_STATEMENT_TIMEOUT_MS", "30000")),
        "No request waits forever on the database.",
    ),
    SettingGroup(
        (Setting("REDIS_URL", "redis://127.0.0.1:6379/0"), Setting("REDIS_PREFIX", "")),
        "WebSocket broker; the prefix (the project's slug when empty) namespaces its pub/sub"
        " channels, which Redis shares across databases, so services can share one Redis.",
        when="uses_redis",
        starts_section=True,
    ),
    SettingGroup(
        (Setting("JWT_SECRET", "change-me"), Setting("JWT_TTL_S", "3600")),
        "HS256 signing key for access tokens (at least 32 random characters in production), and"
        " their lifetime.",
        starts_section=True,
    ),
    SettingGroup((Setting("ALLOW_SIGNUP", "true"),), "Open registration at POST /api/v1/users."),
    SettingGroup(
        (Setting("LOG_LEVEL", "info"), Setting("LOG_FORMAT", "")),
        "debug, info, warning, error or critical; console (readable) or json (default outside"
        " development).",
        starts_section=True,
    ),
    SettingGroup(
        (Setting("CORS_ORIGINS", ""),),
        "Comma-separated origins allowed by CORS; empty allows none.",
    ),
    SettingGroup(
        (Setting("RATE_LIMIT_PER_MINUTE", "600"),),
        "Requests per minute per client address on /api/; 0 turns the limit off.",
    ),
    SettingGroup((Setting("MAX_BODY_BYTES", "1048576"),), "Larger request bodies get 413."),
    SettingGroup(
        (Setting("SHUTDOWN_GRACE_S", "10"),), "Seconds in-flight requests get after SIGTERM."
    ),
)


class Combination(namedtuple("Answers", list(QUESTIONS))):
    """One answer to each question with choices; `id` names it in test ids and reports."""

    __slots__ = ()

    @property
    def id(self) -> str:
        """The answers, joined; a yes/no question reads as its name when yes and is left out
        when no, with the questions only it asks for: turning a feature on lengthens the id."""
        parts: list[str] = []
        off: list[str] = []  # yes/no questions answered no
        for name, value in self._asdict().items():
            question = QUESTIONS[name]
            if any(re.search(rf"\b{no}\b", str(question.get("when", ""))) for no in off):
                continue
            if question.get("type") != "bool":
                parts.append(value)
            elif _is_yes(value):
                parts.append(name)
            else:
                off.append(name)
        return "-".join(parts)

    @property
    def grpc_enabled(self) -> bool:
        return _is_yes(self.grpc)

    @property
    def broker(self) -> str | None:
        """The WebSocket broker, None without WebSocket."""
        return self.websocket_broker if _is_yes(self.websocket) else None


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


def _is_yes(value: str) -> bool:
    return value.strip().lower() in {"true", "yes", "1", "on"}


def _rules() -> Environment:
    """Jinja as copier renders copier.yml's `when`, `default` and validators."""
    return Environment(undefined=StrictUndefined, extensions=[TemplateGlobals])


def _is_asked(rules: Environment, question: dict[str, Any], answers: dict[str, str]) -> bool:
    asked = rules.from_string(str(question.get("when", "true"))).render(answers)
    return asked.strip().lower() not in {"false", "0", "no", "off", ""}


def valid_combinations() -> list[Combination]:
    """Every combination copier.yml accepts, found by asking its questions as copier does: a
    question whose `when` is false takes its default; a choice or an answer whose validator
    says anything is refused."""
    rules = _rules()
    found: list[Combination] = []
    for values in itertools.product(*(choices(name) for name in QUESTIONS)):
        answers: dict[str, str] = {}
        for name, value in zip(QUESTIONS, values, strict=True):
            question = QUESTIONS[name]
            if not _is_asked(rules, question, answers):
                answers[name] = rules.from_string(str(question["default"])).render(answers)
                continue
            answers[name] = value
            checks = [dict(_choices(question))[value], question.get("validator", "")]
            if any(rules.from_string(check).render(answers).strip() for check in checks):
                break
        else:
            combination = Combination(**answers)
            if combination not in found:
                found.append(combination)
    return found


def covering(questions: tuple[str, ...]) -> list[Combination]:
    """The fewest valid combinations that give `questions` every set of answers they can take
    together: one per distinct set, the other questions answered as copier's defaults answer
    them (the first valid combination where no default fits). A check whose outcome depends on
    `questions` alone learns on these all that every other combination could tell it."""
    rules = _rules()
    chosen: dict[tuple[str, ...], tuple[Combination, bool]] = {}
    for combination in valid_combinations():
        answers = combination._asdict()
        projection = tuple(answers[name] for name in questions)
        by_default = all(
            answers[name] == rules.from_string(str(QUESTIONS[name]["default"])).render(answers)
            for name in QUESTIONS
            if name not in questions
        )
        if projection not in chosen or (by_default and not chosen[projection][1]):
            chosen[projection] = (combination, by_default)
    return [combination for combination, _ in chosen.values()]


def pairwise_per_framework() -> list[Combination]:
    """For each framework, few combinations in which every two answers to the other questions
    that can go together meet at least once (pairwise coverage, chosen greedily in the order
    of `valid_combinations`). A fault that needs two answers together shows up on one of them;
    only a fault that needs three or more at once can hide from them."""

    def pairs(combination: Combination) -> set[tuple[tuple[str, str], ...]]:
        # Only the questions it asks: a broker answered without WebSocket pairs with nothing.
        asked = sorted(given_answers(combination).items())
        return set(itertools.combinations([a for a in asked if a[0] != "framework"], 2))

    chosen: list[Combination] = []
    for framework in FRAMEWORKS:
        candidates = [c for c in valid_combinations() if c.framework == framework]
        left = set().union(*(pairs(c) for c in candidates))
        while left:
            best = max(candidates, key=lambda c: len(pairs(c) & left))
            chosen.append(best)
            left -= pairs(best)
    return chosen


def given_answers(combination: Combination) -> dict[str, str]:
    """What to tell copier for this combination: the answers to the questions it asks (one
    it does not ask takes its default, and copier refuses an answer to it)."""
    rules = _rules()
    answers: dict[str, str] = {}
    given: dict[str, str] = {}
    for name, value in combination._asdict().items():
        if _is_asked(rules, QUESTIONS[name], answers):
            given[name] = value
        answers[name] = value
    return given


def default_database_url(database: str, slug: str) -> str:
    name = slug.replace("-", "_")
    return {
        "sqlite": DATABASE_URL_FORMS["sqlite"],
        "postgresql": f"postgresql://postgres@127.0.0.1:5432/{name}",
        "mysql": f"mysql://root@127.0.0.1:3306/{name}",
    }[database]


def database_url_meaning(database: str) -> str:
    meaning = "One URL form whatever the framework; the service maps it to its driver."
    if database == "sqlite":
        return meaning
    return (
        f"{meaning} SQLite is always accepted (tests fall back to it);"
        f" {DATABASE_LABELS[database]}: {DATABASE_URL_FORMS[database]}."
    )


def environment(flags: dict[str, Any], database: str) -> list[SettingGroup]:
    """The settings a service with these flags reads, DATABASE_URL explained for its database."""
    return [
        group._replace(meaning=database_url_meaning(database))
        if group.settings[0].name == "DATABASE_URL"
        else group
        for group in ENVIRONMENT
        if not group.when or flags[group.when]
    ]


def derived_names(answers: dict[str, Any]) -> dict[str, Any]:
    """Everything the templates need beyond the raw answers, computed once.

    Templates test these names, never the raw answers: one spelling per condition.
    """
    slug: str = answers["project_slug"]
    framework: str = answers["framework"]
    database: str = answers["database"]
    pooling: str = answers["pooling"] if database != "sqlite" else POOLING_FOR_EMBEDDED
    websocket = _is_yes(str(answers.get("websocket", False)))
    grpc = _is_yes(str(answers.get("grpc", False)))
    redis = websocket and answers.get("websocket_broker") == "redis"
    names = {
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
        "database_url_form": DATABASE_URL_FORMS[database],
        "make_verbs": {verb.name: verb for verb in make_verbs(framework, grpc)},
        # A broker answer given with websocket off is still in the answers: test these.
        "uses_websocket": websocket,
        "uses_grpc": grpc,
        # Task events and the hub that carries them: WebSocket clients and gRPC watchers.
        # Without WebSocket there is no broker question: events stay in the process.
        "uses_events": websocket or grpc,
        "uses_memory_broker": (websocket or grpc) and not redis,
        "uses_redis": redis,
    }
    names["environment"] = environment(names, database)
    return names


class TemplateGlobals(Extension):
    """Functions the questions' validators call, so they share this file's rules."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.globals["pooling_error"] = pooling_error
        environment.globals["combination_error"] = combination_error


# What derived_names() reads: until copier has them all, it is still asking the questions.
ANSWERS_NEEDED = {"project_slug", "framework", "database", "pooling", "websocket", "grpc"}


class DerivedNames(ContextHook):
    """Adds the derived names and a fresh JWT secret (it only ever lands in `.env`)."""

    def hook(self, context: dict[str, Any]) -> None:
        if not context.keys() >= ANSWERS_NEEDED:
            return  # still asking the questions
        context.update(derived_names(context))
        context["jwt_secret"] = secrets.token_urlsafe(48)
