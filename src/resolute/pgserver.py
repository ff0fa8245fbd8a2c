"""A throwaway PostgreSQL server for tests, benchmarks and local development.

``ThrowawayPostgres`` runs ``initdb`` into a fresh temporary directory, starts
a private server on a free TCP port bound to 127.0.0.1 only, creates one
database and, on exit, kills the server and deletes every file it wrote.
Nothing is shared with a system cluster, so parallel runs cannot interfere.

Usage::

    with ThrowawayPostgres() as pg:
        psycopg.connect(pg.url)

or, for a developer who wants a scratch server in another terminal::

    python -m resolute.pgserver
"""

from __future__ import annotations

import argparse
import glob
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

__all__ = ["ThrowawayPostgres", "find_pg_bin", "main"]

# The three programs a server directory must hold for us to use it.
_REQUIRED_BINARIES = ("initdb", "pg_ctl", "postgres")

# Environment variable that pins the binary directory (checked first).
PG_BIN_ENV = "RESOLUTE_PG_BIN"

# initdb and pg_ctl refuse to run as root; this is the account Debian's
# ``postgresql`` package creates, which we switch to with runuser.
_SERVICE_USER = "postgres"

# Settings that trade crash safety for speed. A throwaway server loses its
# data on exit anyway, so durability only costs time in tests. Benchmarks
# pass fast=False so that their numbers reflect a normally configured server.
_FAST_OPTIONS = ("-F", "-c", "fsync=off", "-c", "full_page_writes=off",
                 "-c", "synchronous_commit=off")

# Lines of the server log quoted in start-up errors.
_LOG_TAIL_LINES = 40


def _has_binaries(directory: Path) -> bool:
    return all(os.access(directory / name, os.X_OK) and (directory / name).is_file()
               for name in _REQUIRED_BINARIES)


def _version_key(path: str) -> tuple[int, ...]:
    """Sort key for /usr/lib/postgresql/<version>/bin paths ("9.6" < "15")."""
    version = Path(path).parent.name
    return tuple(int(part) for part in re.findall(r"\d+", version)) or (-1,)


def find_pg_bin() -> Path | None:
    """Return a directory holding initdb, pg_ctl and postgres, or None.

    Order: ``$RESOLUTE_PG_BIN``; ``pg_config --bindir``; the highest version
    under /usr/lib/postgresql/*/bin. The real bin directory is returned rather
    than something like /usr/local/bin because wrappers or symlinks there may
    mix versions or be Debian's pg_wrapper scripts that pick a cluster.

    If RESOLUTE_PG_BIN is set but unusable, None is returned instead of
    silently falling back: an explicit choice that is wrong should be seen.
    """
    explicit = os.environ.get(PG_BIN_ENV)
    if explicit:
        path = Path(explicit).expanduser()
        return path.resolve() if _has_binaries(path) else None

    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True,
                                 text=True, timeout=10, check=True).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        # On Debian pg_config may come from libpq-dev alone and name a bin
        # directory without a server in it, so verify before trusting it.
        if out and _has_binaries(Path(out)):
            return Path(out).resolve()

    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key,
                        reverse=True)
    for candidate in candidates:
        if _has_binaries(Path(candidate)):
            return Path(candidate)
    return None


def _free_port() -> int:
    """Ask the kernel for an unused TCP port on 127.0.0.1.

    The socket is closed before postgres binds, so another process could take
    the port in between; ThrowawayPostgres retries with a new port if so.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


class ThrowawayPostgres:
    """A private PostgreSQL server living in a temporary directory.

    Attributes available after start (i.e. inside the ``with`` block):
    ``url``, ``host`` (always 127.0.0.1), ``port``, ``user``, ``dbname``,
    ``base_dir`` (the temporary directory), ``data_dir``, ``socket_dir``,
    ``log_file`` and ``bin_dir``.
    """

    host = "127.0.0.1"

    def __init__(self, *, fast: bool = True, user: str = "resolute",
                 dbname: str = "resolute", port: int | None = None,
                 startup_timeout: float = 60.0) -> None:
        """
        fast: turn off fsync, full_page_writes and synchronous_commit.
        user: name of the superuser created by initdb (trust auth, no password).
        dbname: database created after start-up.
        port: TCP port; None picks a free one (and retries if it gets taken).
        startup_timeout: seconds allowed for the server to accept connections.
        """
        self.fast = fast
        self.user = user
        self.dbname = dbname
        self.requested_port = port
        self.startup_timeout = startup_timeout
        self.port: int | None = None
        self.bin_dir: Path | None = None
        self.base_dir: Path | None = None
        self._started = False

    # ----------------------------------------------------------------- info

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """Whether a server can be started here, and if not, why not."""
        bin_dir = find_pg_bin()
        if bin_dir is None:
            explicit = os.environ.get(PG_BIN_ENV)
            if explicit:
                return False, (f"{PG_BIN_ENV}={explicit} does not contain "
                               f"{', '.join(_REQUIRED_BINARIES)}")
            return False, ("PostgreSQL server binaries (initdb, pg_ctl, postgres) not "
                           "found; install the Debian package 'postgresql' or set "
                           f"{PG_BIN_ENV}")
        if _running_as_root():
            try:
                pwd.getpwnam(_SERVICE_USER)
            except KeyError:
                return False, (f"running as root but there is no '{_SERVICE_USER}' "
                               "user to run the server as (PostgreSQL refuses root)")
            if shutil.which("runuser") is None:
                return False, "running as root but 'runuser' is not available"
        try:
            import psycopg  # noqa: F401  (only checking it is importable)
        except ImportError:
            return False, "psycopg is not installed"
        return True, f"PostgreSQL binaries in {bin_dir}"

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the server is not running")
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.dbname}"

    @property
    def data_dir(self) -> Path:
        return self._require_base() / "data"

    @property
    def socket_dir(self) -> Path:
        return self._require_base() / "sock"

    @property
    def log_file(self) -> Path:
        return self._require_base() / "server.log"

    def _require_base(self) -> Path:
        if self.base_dir is None:
            raise RuntimeError("the server has not been started")
        return self.base_dir

    def connect(self, **kwargs):
        """Open a psycopg connection to the database (convenience)."""
        import psycopg
        return psycopg.connect(self.url, **kwargs)

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The last lines of the server log, or a note that there is none."""
        try:
            text = self.log_file.read_text(errors="replace")
        except (OSError, RuntimeError):
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:]) or "(server log is empty)"

    # ------------------------------------------------------------ lifecycle

    def __enter__(self) -> ThrowawayPostgres:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None,
                 exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        if self._started:
            raise RuntimeError("the server is already running")
        ok, reason = self.available()
        if not ok:
            raise RuntimeError(f"cannot start PostgreSQL: {reason}")
        self.bin_dir = find_pg_bin()
        self._started = True
        try:
            self._make_base_dir()
            self._initdb()
            self._start_server()
            self._create_database()
        except BaseException:
            # Includes KeyboardInterrupt: never leave a server or files behind.
            self.stop()
            raise

    def stop(self) -> None:
        """Kill the server (immediate mode) and delete the directory. Idempotent."""
        if not self._started:
            return
        try:
            if self.base_dir is not None and (self.data_dir / "postmaster.pid").exists():
                self._stop_server()
        finally:
            if self.base_dir is not None:
                shutil.rmtree(self.base_dir, ignore_errors=True)
            self.base_dir = None
            self.port = None
            self._started = False

    # -------------------------------------------------------------- helpers

    def _make_base_dir(self) -> None:
        # Always /tmp: it is traversable by every user (the postgres account
        # cannot enter e.g. /root/... that $TMPDIR might point at), and the
        # unix socket path must stay under ~107 bytes.
        self.base_dir = Path(tempfile.mkdtemp(prefix="resolute-pg-", dir="/tmp"))
        self.socket_dir.mkdir()
        if _running_as_root():
            # mkdtemp gives mode 0700; handing the directory to the service
            # user lets it create data/ and the log, and keeps others out.
            entry = pwd.getpwnam(_SERVICE_USER)
            for path in (self.base_dir, self.socket_dir):
                os.chown(path, entry.pw_uid, entry.pw_gid)

    def _command(self, program: str, *args: str) -> list[str]:
        assert self.bin_dir is not None
        cmd = [str(self.bin_dir / program), *args]
        if _running_as_root():
            cmd = ["runuser", "-u", _SERVICE_USER, "--", *cmd]
        return cmd

    def _run(self, program: str, *args: str, timeout: float) -> subprocess.CompletedProcess:
        env = dict(os.environ)
        # English, locale-independent messages (we match on them) and no
        # inherited PGDATA/PGPORT etc. that could point at another cluster.
        env["LC_ALL"] = "C"
        for key in list(env):
            if key.startswith("PG"):
                del env[key]
        return subprocess.run(self._command(program, *args), cwd=self.base_dir,
                              env=env, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=timeout)

    def _fail(self, what: str, result: subprocess.CompletedProcess | None = None) -> None:
        parts = [f"PostgreSQL {what}"]
        if result is not None:
            output = (result.stdout + result.stderr).strip()
            parts.append(f"exit code {result.returncode}; output:\n{output}")
        parts.append(f"server log tail:\n{self.log_tail()}")
        raise RuntimeError("\n".join(parts))

    def _initdb(self) -> None:
        # --locale=C: works with UTF8 on any machine whether or not other
        # locales are generated, and gives byte-order sorting everywhere.
        result = self._run("initdb", "-D", str(self.data_dir), "-A", "trust",
                           "-U", self.user, "--encoding=UTF8", "--locale=C",
                           "--no-sync", "--no-instructions",
                           timeout=self.startup_timeout)
        if result.returncode != 0:
            self._fail("initdb failed", result)

    def _server_options(self, port: int) -> str:
        options = ["-c", "listen_addresses=127.0.0.1", "-p", str(port),
                   "-k", str(self.socket_dir)]
        if self.fast:
            options += _FAST_OPTIONS
        # pg_ctl hands this string to /bin/sh, hence the quoting.
        return " ".join(shlex.quote(option) for option in options)

    def _start_server(self) -> None:
        attempts = 1 if self.requested_port is not None else 3
        for attempt in range(attempts):
            port = self.requested_port or _free_port()
            try:
                result = self._run("pg_ctl", "start", "-D", str(self.data_dir),
                                   "-l", str(self.log_file), "-w",
                                   "-t", str(int(self.startup_timeout)),
                                   "-o", self._server_options(port),
                                   timeout=self.startup_timeout + 10)
            except subprocess.TimeoutExpired:
                self._fail(f"did not start within {self.startup_timeout:.0f} s")
            if result.returncode == 0:
                self.port = port
                return
            # Another process may have grabbed the port after _free_port()
            # released it; pick a new one rather than failing the run.
            port_taken = "Address already in use" in self.log_tail()
            if not (port_taken and attempt + 1 < attempts):
                self._fail(f"server failed to start on port {port}", result)
            self.log_file.unlink(missing_ok=True)

    def _create_database(self) -> None:
        import psycopg
        # pg_ctl -w already waited for "ready", but keep polling briefly in
        # case the first connection races the final start-up steps.
        deadline = time.monotonic() + self.startup_timeout
        admin = f"postgresql://{self.user}@{self.host}:{self.port}/postgres"
        while True:
            try:
                with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f'CREATE DATABASE "{self.dbname.replace(chr(34), chr(34) * 2)}"')
                return
            except psycopg.OperationalError as error:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"PostgreSQL does not accept connections: {error}\n"
                                       f"server log tail:\n{self.log_tail()}") from error
                time.sleep(0.1)

    def _stop_server(self) -> None:
        try:
            result = self._run("pg_ctl", "stop", "-D", str(self.data_dir),
                               "-m", "immediate", "-w", "-t", "30", timeout=40)
            if result.returncode == 0:
                return
        except subprocess.TimeoutExpired:
            pass
        # pg_ctl failed: signal the postmaster we started directly (SIGQUIT is
        # what "immediate" mode sends) so no orphan outlives the directory.
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split()[0])
            os.kill(pid, signal.SIGQUIT)
        except (OSError, ValueError, IndexError):
            pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m resolute.pgserver",
        description="Start a throwaway PostgreSQL server, print its URL and keep "
                    "it running until Ctrl-C; all its files are deleted on exit.")
    parser.add_argument("--durable", action="store_true",
                        help="keep fsync/full_page_writes/synchronous_commit on")
    parser.add_argument("--port", type=int, default=None,
                        help="TCP port on 127.0.0.1 (default: a free one)")
    args = parser.parse_args(argv)

    ok, reason = ThrowawayPostgres.available()
    if not ok:
        print(f"cannot start PostgreSQL: {reason}", file=sys.stderr)
        return 2

    # Treat SIGTERM like Ctrl-C so `kill PID` also cleans up.
    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    try:
        with ThrowawayPostgres(fast=not args.durable, port=args.port) as pg:
            print(pg.url, flush=True)
            print("Press Ctrl-C to stop (the data will be deleted).", file=sys.stderr,
                  flush=True)
            while True:
                signal.pause()
    except KeyboardInterrupt:
        pass
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
