"""Database faults for the drills, made without touching the shared database servers.

`FaultProxy` is a TCP relay the service reaches its database through: `cut()` is a restart or a
network cut (every relayed connection closed, new ones refused), `freeze()` a hung server (the
connections stay open and nothing moves), `restore()` ends either. `TableLock` holds a table lock
from a direct connection, and `task_titles` reads what a service committed, both through the
database's own command-line client.
"""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import subprocess
import threading
import time
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit

from support.blackbox import children_by_pid
from support.commands import free_port
from support.databases import MYSQL, POSTGRES

_CHUNK = 65536


class FaultProxy:
    """A loopback TCP relay in front of one server, on a free port, run by background threads.

    One thread owns the listening socket; each relayed connection has a pump thread per
    direction. The listener is closed while cut (a connect is refused, as by a server that is
    down) and stops accepting while frozen (the kernel still completes the handshake, as for a
    process that hangs).
    """

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self._lock = threading.Condition()
        self._mode = "open"  # "open", "cut" or "frozen"
        self._applied = "open"  # what the listener thread has put in place
        self._stopping = False
        self._sockets: set[socket.socket] = set()
        self.relayed = 0  # connections relayed so far
        self._listener: socket.socket | None = self._listen(free_port())
        self.port = int(self._listener.getsockname()[1])
        self._thread = threading.Thread(target=self._serve, name="fault-proxy", daemon=True)
        self._thread.start()

    @classmethod
    def in_front_of(cls, database_url: str) -> FaultProxy:
        parts = urlsplit(database_url)
        assert parts.hostname, database_url
        assert parts.port, database_url
        return cls(parts.hostname, parts.port)

    def url(self, database_url: str) -> str:
        """`database_url` with its host and port replaced by the proxy's."""
        parts = urlsplit(database_url)
        credentials = parts.netloc.rpartition("@")[0]
        netloc = f"{credentials}@127.0.0.1:{self.port}" if credentials else f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    # The faults -----------------------------------------------------------------------------

    def cut(self) -> None:
        """Closes every relayed connection and refuses new ones until `restore()`."""
        self._switch("cut")
        with self._lock:
            doomed, self._sockets = self._sockets, set()
        for sock in doomed:
            _close(sock)

    def freeze(self) -> None:
        """Keeps every connection open and relays nothing, accepts nothing, until `restore()`."""
        self._switch("frozen")

    def restore(self) -> None:
        self._switch("open")

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            self._mode = "cut"
            self._lock.notify_all()
        self._thread.join(timeout=5)
        with self._lock:
            doomed, self._sockets = self._sockets, set()
        for sock in doomed:
            _close(sock)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    # The machinery --------------------------------------------------------------------------

    def _switch(self, mode: str) -> None:
        """Sets the mode and returns once the listener thread has applied it."""
        with self._lock:
            self._mode = mode
            self._lock.notify_all()
            applied = self._lock.wait_for(lambda: self._applied == mode, timeout=5)
        assert applied, f"the fault proxy did not switch to {mode!r}"

    def _listen(self, port: int) -> socket.socket:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Connections relayed before a cut linger in TIME_WAIT on this port: rebinding can race
        # the kernel for a moment.
        deadline = time.monotonic() + 5
        while True:
            try:
                listener.bind(("127.0.0.1", port))
                break
            except OSError:
                if time.monotonic() > deadline:
                    listener.close()
                    raise
                time.sleep(0.05)
        listener.listen(128)
        listener.settimeout(0.05)
        return listener

    def _serve(self) -> None:
        while True:
            with self._lock:
                if self._stopping:
                    if self._listener is not None:
                        self._listener.close()
                        self._listener = None
                    return
                mode = self._mode
                if mode == "cut" and self._listener is not None:
                    self._listener.close()
                    self._listener = None
                elif mode != "cut" and self._listener is None:
                    self._listener = self._listen(self.port)
                self._applied = mode
                self._lock.notify_all()
                listener = self._listener
            if listener is None or mode == "frozen":
                with self._lock:
                    self._lock.wait(timeout=0.05)
                continue
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                continue
            self._relay(client)

    def _relay(self, client: socket.socket) -> None:
        client.settimeout(None)
        try:
            upstream = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            _close(client)
            return
        upstream.settimeout(None)
        for sock in (client, upstream):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            if self._mode == "cut":
                _close(client)
                _close(upstream)
                return
            self._sockets.update((client, upstream))
            self.relayed += 1
        for source, target in ((client, upstream), (upstream, client)):
            threading.Thread(
                target=self._pump, args=(source, target), name="fault-proxy-pump", daemon=True
            ).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while True:
                data = source.recv(_CHUNK)
                if not data:
                    break
                with self._lock:
                    # Frozen: what was read is held (as a hung peer's buffers hold it) and
                    # moves on once restored, unless the connection is cut meanwhile.
                    self._lock.wait_for(lambda: self._mode != "frozen")
                    if source not in self._sockets:
                        break
                target.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._sockets.discard(source)
                self._sockets.discard(target)
            _close(source)
            _close(target)


class SilentServer:
    """A loopback port that accepts connections and never says a word: a hung server, with the
    time its first connection arrived (when a client's connect timeout starts to run)."""

    def __init__(self) -> None:
        # Port 0: the kernel's choice, bound in the same call. A port chosen first and bound
        # after (free_port, meant for ports another process binds) was once found taken in
        # between, in a CI run here: the drill failed with EADDRINUSE, and the socket it left
        # unclosed failed the next test with a ResourceWarning.
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self._listener.settimeout(0.05)
        self.port = int(self._listener.getsockname()[1])
        self.first_accepted_at: float | None = None  # time.monotonic()
        self._held: list[socket.socket] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="silent-server", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                continue
            if self.first_accepted_at is None:
                self.first_accepted_at = time.monotonic()
            self._held.append(client)

    def __enter__(self) -> SilentServer:
        return self

    def __exit__(self, *_: object) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        for sock in [*self._held, self._listener]:
            _close(sock)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


def closed_port() -> int:
    """A loopback port nothing listens on, nor will: a connect to it is refused."""
    return free_port()


# Direct access to the database, past the service and the proxy ----------------------------------


def direct_url(database_url: str) -> str:
    """The server itself for a service's database URL (PgBouncer and the proxy bypassed)."""
    parts = urlsplit(database_url)
    server = POSTGRES if parts.scheme.startswith("postgres") else MYSQL
    return f"{server}{parts.path}"


def _client(database_url: str, *options: str) -> list[str]:
    parts = urlsplit(direct_url(database_url))
    name = parts.path.lstrip("/")
    if parts.scheme.startswith("postgres"):
        return ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", name, "-X", "-q", *options]
    return ["mariadb", "-h", "127.0.0.1", "-u", "root", name, *options]


def task_titles(database_url: str) -> list[str]:
    """Every task title committed in the service's database, duplicates kept."""
    if database_url.startswith("sqlite"):
        path = Path(urlsplit(database_url).path)
        with contextlib.closing(sqlite3.connect(path, timeout=10)) as connection:
            return [row[0] for row in connection.execute("SELECT title FROM tasks")]
    if database_url.startswith("postgres"):
        command = _client(database_url, "-At", "-c", "SELECT title FROM tasks")
    else:
        command = _client(database_url, "-N", "-B", "-e", "SELECT title FROM tasks")
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True)
    return result.stdout.splitlines()


class TableLock:
    """The `tasks` table locked from a connection of its own, in an open transaction."""

    def __init__(self, database_url: str, table: str = "tasks") -> None:
        self.database_url = database_url
        if database_url.startswith("postgres"):
            command = _client(database_url, "-At", "-v", "ON_ERROR_STOP=1")
            self._take = f"BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE; SELECT 'locked';\n"
            self._release = "ROLLBACK;\n\\q\n"
        else:
            # --unbuffered: each result is written out as soon as it is there.
            command = _client(database_url, "-N", "-B", "--unbuffered")
            self._take = f"LOCK TABLES {table} WRITE; SELECT 'locked';\n"
            self._release = "UNLOCK TABLES;\n"
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def __enter__(self) -> TableLock:
        assert self._process.stdin
        assert self._process.stdout
        self._process.stdin.write(self._take)
        self._process.stdin.flush()
        line = self._process.stdout.readline()  # blocks until the lock is held
        assert line.strip() == "locked", f"could not lock: {line}{self._process.stdout.read()}"
        return self

    def release(self) -> None:
        if self._process.poll() is not None:
            return
        assert self._process.stdin
        with contextlib.suppress(OSError):
            self._process.stdin.write(self._release)
            self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stdout:
            self._process.stdout.close()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.release()


# The process under test ------------------------------------------------------------------------


def process_tree(root: int) -> list[int]:
    """`root` and every process descended from it."""
    children = children_by_pid()
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(children.get(pid, []))
    return tree


def tree_rss_kib(root: int) -> int:
    """The resident memory of `root` and its descendants, in KiB, as the kernel counts it."""
    total = 0
    for pid in process_tree(root):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total
