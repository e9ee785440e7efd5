from io import StringIO

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_ensuredb_leaves_an_existing_database_alone() -> None:
    call_command("ensuredb", stdout=StringIO())

    call_command("migrate", "--check", stdout=StringIO())  # still fully migrated


def test_serve_runs_uvicorn_with_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, object]] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **options: calls.append({"app": app, **options}))

    call_command("serve")

    assert calls[0]["app"] == "config.asgi:application"
    assert calls[0]["port"] == 8000
    assert calls[0]["timeout_graceful_shutdown"] == 10
