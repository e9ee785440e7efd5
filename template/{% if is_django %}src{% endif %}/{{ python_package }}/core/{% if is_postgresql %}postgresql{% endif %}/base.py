"""Django's PostgreSQL backend, with a client-side bound on every call.

libpq bounds the connect (`connect_timeout`) and the pool bounds the wait for a free
connection, but nothing bounds a statement on a server that stopped answering: its own
`statement_timeout` does not fire while it is hung (nor where a pooler in front drops
session settings), and the TCP stack keeps acknowledging. A watchdog thread shuts the socket
of any call that runs past its deadline down: libpq sees the connection end, psycopg raises
OperationalError (a 503), and the broken connection is discarded, never handed out again.
"""

import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.conf import settings
from django.db.backends.postgresql import base


class _Watchdog:
    """One thread for every connection: deadlines in a heap, woken by the earliest."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._heap: list[tuple[float, int, int]] = []  # (deadline, token, socket fd)
        self._armed: set[int] = set()
        self._tokens = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, fd: int, seconds: float) -> int:
        token = next(self._tokens)
        with self._lock:
            heapq.heappush(self._heap, (time.monotonic() + seconds, token, fd))
            self._armed.add(token)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="db-watchdog", daemon=True)
                self._thread.start()
            if self._heap[0][1] == token:  # the earliest deadline now: wake the thread for it
                self._lock.notify()
        return token

    def disarm(self, token: int) -> None:
        with self._lock:
            self._armed.discard(token)

    def _run(self) -> None:
        with self._lock:
            while True:
                while self._heap and self._heap[0][1] not in self._armed:
                    heapq.heappop(self._heap)  # finished in time
                if not self._heap:
                    self._lock.wait()
                    continue
                deadline, token, fd = self._heap[0]
                if (wait := deadline - time.monotonic()) > 0:
                    self._lock.wait(wait)
                    continue
                heapq.heappop(self._heap)
                self._armed.discard(token)
                _shut_down(fd)  # under the lock: disarm() cannot return before this is done


def _shut_down(fd: int) -> None:
    try:
        with socket.socket(fileno=os.dup(fd)) as duplicate:
            duplicate.shutdown(socket.SHUT_RDWR)  # ends the socket the duplicate shares
    except OSError:
        pass  # already gone


_watchdog = _Watchdog()


@contextmanager
def deadline(connection: psycopg.Connection[Any], seconds: float) -> Iterator[None]:
    """Bounds whatever the block does on `connection` to `seconds`."""
    try:
        fd = connection.pgconn.socket
    except psycopg.OperationalError:  # already closed: nothing to wait on
        yield
        return
    token = _watchdog.arm(fd, seconds)
    try:
        yield
    finally:
        _watchdog.disarm(token)


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.execute_wrappers.append(self._bounded_statement)

    def _bounded_statement(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        with deadline(self.connection, settings.DB_CLIENT_STATEMENT_TIMEOUT_S):
            return execute(sql, params, many, context)

    def get_new_connection(self, conn_params: dict[str, Any]) -> psycopg.Connection[Any]:
        connection: psycopg.Connection[Any] = super().get_new_connection(conn_params)
        if self.pool is None:
            return connection
        # The pool's own pre-ping has no bound: this one does. A stale connection is discarded
        # and replaced once; a second failure means the database, not the connection.
        for attempt in range(2):
            try:
                with deadline(connection, settings.DB_CHECK_TIMEOUT_S):
                    connection.execute("")
            except psycopg.Error:
                self.pool.putconn(connection)  # broken: the pool closes it, makes a new one
                if attempt:
                    raise
                connection = super().get_new_connection(conn_params)
            else:
                break
        return connection

    def _commit(self) -> None:
        with deadline(self.connection, settings.DB_CLIENT_STATEMENT_TIMEOUT_S):
            super()._commit()  # type: ignore[misc] # not in django-stubs

    def _rollback(self) -> None:
        with deadline(self.connection, settings.DB_CHECK_TIMEOUT_S):
            super()._rollback()  # type: ignore[misc] # not in django-stubs

    def _close(self) -> None:
        # Back to the pool, which rolls an open transaction back: bounded like a check.
        with deadline(self.connection, settings.DB_CHECK_TIMEOUT_S):
            super()._close()  # type: ignore[misc] # not in django-stubs
