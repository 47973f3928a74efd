"""A throw-away Dovecot IMAP server on loopback, for the tests and the benchmark.

Runs ``/usr/sbin/dovecot -F -c <our config>`` as a child process with a passwd-file,
plain authentication on 127.0.0.1 only, and maildirs in a temporary directory; no
system configuration is read or changed. As root, mail is owned by the ``dovecot``
system user (Dovecot refuses mail access as root); otherwise by the current user.
"""

from __future__ import annotations

import getpass
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from pydantic import SecretStr

from channels.settings import MailboxSettings

DOVECOT = "/usr/sbin/dovecot"
DH_PARAMETERS = "/usr/share/dovecot/dh.pem"


def dovecot_path() -> str | None:
    return shutil.which("dovecot") or (DOVECOT if os.path.exists(DOVECOT) else None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ThrowawayDovecot:
    """``tls``: (certificate chain, key) PEM files; then IMAPS listens on ``tls_port`` and STARTTLS is offered."""

    def __init__(self, users: dict[str, str], root: Path | None = None, tls: tuple[Path, Path] | None = None) -> None:
        self.users = users
        self.root = Path(root or tempfile.mkdtemp(prefix="frontdesk-dovecot-"))
        self.port = 0
        self.tls = tls
        self.tls_port = 0
        self.process: subprocess.Popen[bytes] | None = None

    def _identity(self) -> tuple[str, int, int, str, str]:
        if os.geteuid() == 0:
            entry = pwd.getpwnam("dovecot")
            login = "dovenull" if _has_user("dovenull") else "dovecot"
            return "dovecot", entry.pw_uid, entry.pw_gid, "dovecot", login
        me = getpass.getuser()
        return me, os.getuid(), os.getgid(), me, me

    def write_config(self) -> Path:
        user, uid, gid, internal, login = self._identity()
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        mail = self.root / "mail"
        run = self.root / "run"
        mail.mkdir(exist_ok=True)
        run.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            os.chown(mail, uid, gid)
        passwd = self.root / "passwd.d"
        passwd.mkdir(exist_ok=True)
        for name, secret in self.users.items():
            self.add_user(name, secret)
        self.port = self.port or _free_port()
        ssl = "ssl = no"
        if self.tls is not None:
            self.tls_port = self.tls_port or _free_port()
            cert, key = self.tls
            ssl = f"ssl = yes\nssl_cert = <{cert}\nssl_key = <{key}"
            if os.path.exists(DH_PARAMETERS):
                ssl += f"\nssl_dh = <{DH_PARAMETERS}"
        config = self.root / "dovecot.conf"
        config.write_text(
            f"""
protocols = imap
listen = 127.0.0.1
base_dir = {run}
state_dir = {run}/state
instance_name = frontdesk-{self.port}
log_path = /dev/stderr
info_log_path = /dev/null
{ssl}
mail_fsync = never
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
default_internal_user = {internal}
default_login_user = {login}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {passwd}/%n
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={mail}/%n
}}
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = create
  }}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.tls_port}
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-writer {{
    user = {user}
  }}
}}
"""
        )
        return config

    def add_user(self, name: str, secret: str) -> None:
        """One passwd-file per user, so users added while Dovecot runs are seen at once."""
        if not name.isalnum():
            raise ValueError("user names are letters and digits")
        self.users[name] = secret
        (self.root / "passwd.d" / name).write_text(f"{name}:{{PLAIN}}{secret}::::::\n")

    def start(self, timeout: float = 10.0) -> ThrowawayDovecot:
        binary = dovecot_path()
        if binary is None:
            raise RuntimeError("dovecot is not installed")
        config = self.write_config()
        with open(self.root / "dovecot.log", "wb") as log_file:
            self.process = subprocess.Popen([binary, "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=log_file)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {(self.root / 'dovecot.log').read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("dovecot did not start listening")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def restart(self) -> None:
        """Stop and start again on the same port, with the same mail (a server restart)."""
        self.stop()
        self.kick_clients()
        self.start()

    def kick_clients(self) -> None:
        """End this server's IMAP sessions (they can outlive the master process)."""
        import psutil

        for conn in psutil.net_connections("tcp"):
            if conn.pid and conn.laddr and conn.laddr.port == self.port and conn.pid != os.getpid():
                try:
                    psutil.Process(conn.pid).terminate()
                except psutil.Error:
                    pass

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def mailbox(self, user: str, name: str | None = None, **overrides: object) -> MailboxSettings:
        values: dict[str, object] = {
            "name": name or user,
            "address": f"{user}@example.com",
            "host": "127.0.0.1",
            "port": self.tls_port if overrides.get("security") == "tls" else self.port,
            "security": "plain",
            "username": user,
            "password": SecretStr(self.users[user]),
            "timeout": 10.0,
        }
        values.update(overrides)
        return MailboxSettings.model_validate(values)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
