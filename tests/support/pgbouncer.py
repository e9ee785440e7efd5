"""A real PgBouncer in transaction mode in front of the loopback PostgreSQL."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from support.commands import free_port, wait_for_port

# Debian's package installs it outside a non-root PATH; PGBOUNCER_BINARY names another build.
PGBOUNCER_BINARY = (
    os.environ.get("PGBOUNCER_BINARY") or shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
)


class PgBouncer:
    """One PgBouncer on a free port, configured in a directory of its own."""

    def __init__(self) -> None:
        self.port = free_port()
        # PgBouncer refuses to run as root: it switches to `postgres`, which must read this.
        self.directory = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
        self.directory.chmod(0o755)
        (self.directory / "userlist.txt").write_text('"postgres" ""\n')
        (self.directory / "pgbouncer.ini").write_text(
            f"""\
[databases]
* = host=127.0.0.1 port=5432

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {self.directory}/userlist.txt
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 10
# Every combination's throw-away databases get pools of their own: close the idle server
# connections soon, or they hold PostgreSQL's 100 long after their tests are done.
server_idle_timeout = 5
ignore_startup_parameters = extra_float_digits
logfile = {self.directory}/pgbouncer.log
pidfile = {self.directory}/pgbouncer.pid
"""
        )
        command = [PGBOUNCER_BINARY]
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres")
            command += ["-u", "postgres"]
        self.process = subprocess.Popen(
            [*command, str(self.directory / "pgbouncer.ini")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        shutil.rmtree(self.directory, ignore_errors=True)
