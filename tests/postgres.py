"""A throw-away PostgreSQL server for tests: `initdb` + `pg_ctl` in a temporary directory, on a free
port, trust authentication on 127.0.0.1, stopped and deleted afterwards. No mocks: the tests talk
to a real server. When the server binaries are missing the tests skip, saying so.

PostgreSQL refuses to run as root, and tests run as root in CI: then every server command runs as
the `postgres` system user, which owns the directory.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

SERVER_TOOLS = ("initdb", "pg_ctl", "postgres")


def find_server_bin() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres: from PATH, else /usr/lib/postgresql/*/bin."""
    found = shutil.which("initdb")
    candidates = [Path(os.path.realpath(found)).parent] if found else []
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
                      if Path(p).parent.name.isdigit() else 0, reverse=True)
    candidates += [Path(p) for p in versions]
    for directory in candidates:
        if all((directory / tool).is_file() for tool in SERVER_TOOLS):
            return directory
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """A PostgreSQL cluster in `base` (data/, sock/, log), listening on 127.0.0.1:`port`."""

    def __init__(self, bin_dir: Path, base: Path) -> None:
        self.bin_dir, self.base = bin_dir, base
        self.data, self.sock, self.log = base / "data", base / "sock", base / "server.log"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0

    def _run(self, tool: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        cmd = [str(self.bin_dir / tool), *args]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        return subprocess.run(cmd, cwd=self.base, env=env, capture_output=True, text=True, timeout=timeout)

    def init(self) -> None:
        self.sock.mkdir()
        if self.as_postgres:
            shutil.chown(self.base, "postgres", "postgres")
            shutil.chown(self.sock, "postgres", "postgres")
        done = self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                         "--no-locale", "--no-sync", "--no-instructions")
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stdout}{done.stderr}")

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.sock} -h 127.0.0.1 -F -c full_page_writes=off "
                   "-c synchronous_commit=off -c max_connections=100")
        done = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", options,
                         "start", timeout=90)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {done.stdout}{done.stderr}{log}")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self, database: str = "postgres", password: str = "pw") -> str:
        """A plain `postgresql://` URL, as a user writes it (trust auth ignores the password)."""
        return f"postgresql://postgres:{password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """A fresh database; returns its URL."""
        import psycopg

        name = name or f"t_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                             autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _say(request, text: str) -> None:
    """Print past pytest's output capture (a skip reason is otherwise only shown with -rs)."""
    plugins = request.config.pluginmanager
    reporter, capture = plugins.getplugin("terminalreporter"), plugins.getplugin("capturemanager")
    if reporter is None:
        return
    if capture is None:
        reporter.write_line(text)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(text)


@pytest.fixture(scope="module")
def postgres_server(request):
    """A running throw-away PostgreSQL server (module-wide); skips when PostgreSQL is not installed."""
    pytest.importorskip("psycopg", reason="psycopg 3 not installed: pip install 'nas-cli[postgres]'")
    bin_dir = find_server_bin()
    if bin_dir is None:
        reason = ("PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or in /usr/lib/postgresql/*/bin: "
                  "apt-get install postgresql")
        _say(request, f"SKIPPED: {reason}")
        pytest.skip(reason)
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root needs `runuser` to start PostgreSQL as the postgres user")
    base = Path(tempfile.mkdtemp(prefix="nas-pg-"))  # not under pytest's 0700 root-owned tmp: postgres must reach it
    server = PostgresServer(bin_dir, base)
    try:
        server.init()
        for attempt in range(3):  # the free port may be taken between finding and binding it
            try:
                server.start()
                break
            except RuntimeError:
                if attempt == 2:
                    raise
                server.port = free_port()
        _wait_ready(server)
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


def _wait_ready(server: PostgresServer, timeout: float = 30) -> None:
    import psycopg

    end = time.monotonic() + timeout
    while True:
        try:
            psycopg.connect(host="127.0.0.1", port=server.port, user="postgres", dbname="postgres",
                            connect_timeout=5).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > end:
                raise
            time.sleep(0.1)
