"""A real PostgreSQL server for the tests: the Debian package's binaries, a cluster made by
`initdb` in a temporary directory, started on a free loopback port and stopped at the end.

PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` user the
package creates and initdb/pg_ctl run through `runuser`. Nothing of the system's own cluster is
used or started. Each test gets a database of its own (CREATE DATABASE, dropped afterwards).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support import free_port

USER = "balkanwatch"  # the cluster's superuser; trust authentication on loopback only


def binaries() -> Path | None:
    """The newest installed PostgreSQL's bin directory (Debian layout), or None."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4])
    )
    return Path(found[-1]).parent if found else None


def missing() -> str | None:
    """Why the PostgreSQL tests cannot run here, or None when they can."""
    if binaries() is None:
        return "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run make test"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed: pip install -e '.[test]'"
    return None


class PostgresServer:
    """One cluster for the whole session; `database()` makes a fresh database in it."""

    def __init__(self) -> None:
        bin_dir = binaries()
        assert bin_dir is not None
        self.bin = bin_dir
        # Not under pytest's tmp_path: that is private to root (0700) and the server runs as
        # `postgres`, which must reach its data directory.
        self.dir = Path(tempfile.mkdtemp(prefix="balkanwatch-pg-"))
        self.run_as = "postgres" if os.geteuid() == 0 else None
        if self.run_as:
            ids = pwd.getpwnam(self.run_as)
            os.chown(self.dir, ids.pw_uid, ids.pw_gid)
        self.data = self.dir / "data"
        self.port = free_port()
        self.counter = itertools.count(1)
        self._run(
            "initdb", "-D", str(self.data), "-U", USER, "--auth=trust", "--encoding=UTF8",
            "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.dir} -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=200"
        )
        self._run(
            "pg_ctl", "start", "-D", str(self.data), "-w", "-t", "60",
            "-l", str(self.dir / "server.log"), "-o", options,
        )  # fmt: skip

    def _run(self, program: str, *args: str) -> None:
        cmd = [str(self.bin / program), *args]
        if self.run_as:
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=self.dir, timeout=120)
        if done.returncode != 0:
            log = self.dir / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{program} failed: {done.stderr or done.stdout}\n{tail}")

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{dbname}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def database(self) -> str:
        """A new, empty database; its URL."""
        name = f"test_{os.getpid()}_{next(self.counter)}"
        self._admin(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'")
        return self.url(name)

    def drop(self, url: str) -> None:
        # FORCE: a child process a test killed may still hold a connection for a moment.
        self._admin(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
