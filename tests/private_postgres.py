"""A PostgreSQL server of the test's own, to stop and start again under load.

The shared server on 5432 serves every other test, so it must never be restarted; a test
that restarts *the database* (issue 17: "the database restarted under load") initialises
a throw-away cluster with the installed server binaries (``/usr/lib/postgresql/<v>/bin``)
in a temporary directory, on a free loopback port, with trust authentication and no
fsync (nothing here needs to survive a power cut, and it starts in a second or two).

PostgreSQL refuses to run as root: as root (the tests in CI) the directory is given to
the ``postgres`` system user and every command runs through ``runuser -u postgres``.
``stop("immediate")`` is a crash as far as the clients see: every backend ends at once,
no goodbye on the connections, and the next start replays the WAL.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from cluster_processes import free_port

SUPERUSER = "postgres"


def postgres_bin_dir() -> str | None:
    """The newest installed server's binaries (``initdb``, ``pg_ctl``), or None."""
    found = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")]
    if not found:
        initdb = shutil.which("initdb")
        return str(Path(initdb).parent) if initdb else None

    def version(path: Path) -> tuple[int, ...]:
        name = path.parent.name
        return tuple(int(part) for part in name.split(".") if part.isdigit())

    return str(max(found, key=version))


class PrivatePostgres:
    """One server in a temporary directory; ``url(database)`` for SQLAlchemy (asyncpg)."""

    def __init__(self, bin_dir: str, root: Path | None = None) -> None:
        self.bin_dir = Path(bin_dir)
        self.root = Path(root or tempfile.mkdtemp(prefix="frontdesk-pg-"))
        self.data = self.root / "data"
        self.logfile = self.root / "server.log"
        self.port = free_port()  # kept across restarts: the instances reconnect to the same address
        self._as_root = os.geteuid() == 0

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self._as_root:
            command = ["runuser", "-u", SUPERUSER, "--", *command]
        done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n"
                               f"{done.stdout.decode(errors='replace')}{done.stderr.decode(errors='replace')}\n"
                               f"{self.log_tail()}")

    def init(self) -> PrivatePostgres:
        if self._as_root:
            entry = pwd.getpwnam(SUPERUSER)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
                  "--no-sync", "--locale=C")
        return self

    def start(self) -> None:
        """Start (again) and wait until it accepts connections."""
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.logfile), "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """``immediate``: a crash for the clients (no clean shut-down, WAL replayed on the next start)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, name)
        return self.url(name)

    def log_tail(self, lines: int = 20) -> str:
        if not self.logfile.exists():
            return ""
        return "\n".join(self.logfile.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    def cleanup(self) -> None:
        """Stop (if running) and remove the directory."""
        if (self.data / "postmaster.pid").exists():
            try:
                self.stop("immediate")
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
        shutil.rmtree(self.root, ignore_errors=True)
