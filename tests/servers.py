"""Start and stop the real servers the suite runs against, on loopback, free ports.

Used two ways:

* ``python -m tests.servers start`` / ``stop`` (the Makefile): one shared instance of
  each server for the whole run, with its URL written to ``.services/env``.
* ``RedisServer(tmp_path).start()`` etc. from tests that must restart or kill a server
  without disturbing the others (a private instance, stopped by its fixture).

Each server gets its own data directory and is stopped by its recorded PID.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SERVICES_DIR = ROOT / ".services"
ENV_FILE = SERVICES_DIR / "env"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_port_pair(offset: int, low: int = 20000, high: int = 45000) -> int:
    """A free port P in [low, high) whose P + offset is free too (RabbitMQ's dist port)."""
    import random

    for _ in range(200):
        port = random.randrange(low, high)
        try:
            for candidate in (port, port + offset):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port
    raise RuntimeError(f"no free port pair with offset {offset} in [{low}, {high})")


def wait_for_port(port: int, timeout_s: float, *, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with code {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout_s}s")


def _kill_pid(pid: int, timeout_s: float = 20.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


class Server:
    """A server process with a data dir, a port and a PID file."""

    name = "server"
    startup_timeout_s = 30.0

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "server.pid"

    @property
    def url(self) -> str:
        raise NotImplementedError

    def command(self) -> list[str]:
        raise NotImplementedError

    def prepare(self) -> None:
        """Create the data dir (first start only)."""

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def popen_options(self) -> dict[str, Any]:
        """Extra ``subprocess.Popen`` arguments (e.g. the user the server runs as)."""
        return {}

    def start(self) -> Server:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.prepare()
        log = open(self.data_dir / "server.log", "ab")  # closed below; the child keeps its copy
        self.proc = subprocess.Popen(
            self.command(),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env(),
            start_new_session=True,
            **self.popen_options(),
        )
        log.close()
        self.pid_file.write_text(str(self.proc.pid))
        try:
            wait_for_port(self.port, self.startup_timeout_s, proc=self.proc)
            self.wait_ready()
        except Exception:
            self.stop()
            raise
        return self

    def wait_ready(self) -> None:
        """Block until the server answers requests (after its port opened)."""

    def stop(self) -> None:
        pid = self.proc.pid if self.proc else None
        if pid is None and self.pid_file.exists():
            pid = int(self.pid_file.read_text())
        if pid is not None:
            # the whole session: rabbitmq-server is a script with children
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)
            _kill_pid(pid)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        if self.proc is not None:
            with contextlib.suppress(Exception):
                self.proc.wait(timeout=5)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL the server (crash test); ``start()`` brings it back on the same port."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


class RedisServer(Server):
    name = "redis"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        return [
            "redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.data_dir),
            "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--daemonize", "no",
        ]  # fmt: skip


class MariaDBServer(Server):
    name = "mariadb"
    startup_timeout_s = 60.0

    @property
    def url(self) -> str:
        return f"mysql://root@127.0.0.1:{self.port}/onestep"

    def prepare(self) -> None:
        if (self.data_dir / "mysql").exists():
            return
        subprocess.run(
            [
                "mariadb-install-db", "--no-defaults", f"--datadir={self.data_dir}", "--user=root",
                "--auth-root-authentication-method=normal", "--skip-test-db",
            ],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def command(self) -> list[str]:
        return [
            "mariadbd", "--no-defaults", f"--datadir={self.data_dir}", "--user=root", f"--port={self.port}",
            "--bind-address=127.0.0.1", f"--socket={self.data_dir}/sock", f"--pid-file={self.data_dir}/mariadb.pid",
            "--skip-log-bin", "--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci",
            "--innodb-flush-log-at-trx-commit=2", "--max-connections=500",
        ]  # fmt: skip

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        sql = "create database if not exists onestep character set utf8mb4 collate utf8mb4_unicode_ci"
        while True:
            done = subprocess.run(
                ["mariadb", "--no-defaults", "-h127.0.0.1", f"-P{self.port}", "-uroot", "-e", sql],
                capture_output=True,
            )
            if done.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"mariadb not ready: {done.stderr.decode(errors='replace')}")
            time.sleep(0.3)


def _open_parents_to_others(path: Path) -> None:
    """Let a server that drops to its own user traverse every parent of ``path``.

    (pytest's tmp_path parents are root-only 0700.)
    """
    for parent in path.parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            os.chmod(parent, mode | 0o001)


class PostgresServer(Server):
    """Debian's PostgreSQL 15, run as the ``postgres`` user (initdb refuses root)."""

    name = "postgres"
    startup_timeout_s = 60.0
    USER = "postgres"

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/onestep"

    @property
    def cluster_dir(self) -> Path:
        return self.data_dir / "data"

    @staticmethod
    def bin(name: str) -> str:
        """A server binary: Debian keeps them off the PATH, under /usr/lib/postgresql/<major>/bin."""
        found = shutil.which(name)
        if found:
            return found
        for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
            return str(candidate)
        raise FileNotFoundError(f"{name} not found: install Debian's postgresql package (make system-deps)")

    def _as_postgres(self) -> dict[str, Any]:
        return {"user": self.USER, "group": self.USER} if os.geteuid() == 0 else {}

    def prepare(self) -> None:
        if (self.cluster_dir / "PG_VERSION").exists():
            return
        if os.geteuid() == 0:
            _open_parents_to_others(self.data_dir)
            shutil.chown(self.data_dir, self.USER, self.USER)
        subprocess.run(
            [self.bin("initdb"), "-D", str(self.cluster_dir), "--auth=trust", "-U", "postgres",
             "--encoding=UTF8", "--locale=C.UTF-8"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **self._as_postgres(),
        )  # fmt: skip

    def command(self) -> list[str]:
        # fsync off: the suite tests the queue's logic, not the disk (as MariaDB's flush=2)
        return [
            self.bin("postgres"), "-D", str(self.cluster_dir), "-p", str(self.port), "-k", str(self.data_dir),
            "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=300", "-c", "fsync=off",
            "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
        ]  # fmt: skip

    def popen_options(self) -> dict[str, Any]:
        return self._as_postgres()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        while True:
            done = subprocess.run(
                ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-tAc",
                 "select 1 from pg_database where datname = 'onestep'"],
                capture_output=True, text=True,
            )  # fmt: skip
            if done.returncode == 0:
                if done.stdout.strip() != "1":
                    subprocess.run(
                        ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-c",
                         "create database onestep"],
                        check=True, capture_output=True,
                    )  # fmt: skip
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"postgres not ready: {done.stderr}")
            time.sleep(0.2)

    def stop(self) -> None:
        # SIGINT is PostgreSQL's fast shutdown; SIGTERM (smart) would wait for every client
        pid = self.proc.pid if self.proc else None
        if pid is None and self.pid_file.exists():
            pid = int(self.pid_file.read_text())
        if pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGINT)
        super().stop()


class RabbitMQServer(Server):
    name = "rabbitmq"
    startup_timeout_s = 90.0
    DIST_PORT_OFFSET = 20000

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        super().__init__(data_dir, port or free_port_pair(self.DIST_PORT_OFFSET))

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    @property
    def nodename(self) -> str:
        return f"t{self.port}@localhost"

    def prepare(self) -> None:
        # The broker drops to the rabbitmq user
        _open_parents_to_others(self.data_dir)
        (self.data_dir / "mnesia").mkdir(parents=True, exist_ok=True)
        (self.data_dir / "log").mkdir(parents=True, exist_ok=True)
        (self.data_dir / "enabled_plugins").write_text("[].")
        shutil.chown(self.data_dir, "rabbitmq", "rabbitmq")
        for path in self.data_dir.rglob("*"):
            shutil.chown(path, "rabbitmq", "rabbitmq")

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            RABBITMQ_NODENAME=self.nodename,
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.port + self.DIST_PORT_OFFSET),
            RABBITMQ_MNESIA_BASE=str(self.data_dir / "mnesia"),
            RABBITMQ_LOG_BASE=str(self.data_dir / "log"),
            RABBITMQ_PID_FILE=str(self.data_dir / "rabbit.pid"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.data_dir / "enabled_plugins"),
        )
        return env

    def command(self) -> list[str]:
        return ["rabbitmq-server"]

    def wait_ready(self) -> None:
        subprocess.run(
            ["rabbitmqctl", "-n", self.nodename, "wait", str(self.data_dir / "rabbit.pid"), "--timeout", "90"],
            check=True, env=self.env(), capture_output=True,
        )  # fmt: skip

    def stop(self) -> None:
        if self.proc is not None or self.pid_file.exists():
            subprocess.run(
                ["rabbitmqctl", "-n", self.nodename, "stop"], env=self.env(), capture_output=True, timeout=60
            )
        super().stop()


class MotoServer(Server):
    name = "moto"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        moto = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or "moto_server"
        return [moto, "-H", "127.0.0.1", "-p", str(self.port)]


SERVERS: dict[str, tuple[type[Server], str]] = {
    "redis": (RedisServer, "ONESTEP_TEST_REDIS_URL"),
    "mariadb": (MariaDBServer, "ONESTEP_TEST_MYSQL_URL"),
    "postgres": (PostgresServer, "ONESTEP_TEST_PG_URL"),
    "rabbitmq": (RabbitMQServer, "ONESTEP_TEST_AMQP_URL"),
    "moto": (MotoServer, "ONESTEP_TEST_SQS_ENDPOINT"),
}


def start_all(names: list[str]) -> dict[str, str]:
    SERVICES_DIR.mkdir(exist_ok=True)
    env: dict[str, str] = {}
    for name in names:
        cls, var = SERVERS[name]
        data_dir = SERVICES_DIR / name
        _stop_recorded(cls, data_dir)  # a second `start` must not orphan the first one's server
        if name in ("mariadb", "postgres", "rabbitmq") and data_dir.exists():
            shutil.rmtree(data_dir)  # a fresh server every run: no state leaks between runs
        started = time.monotonic()
        server = cls(data_dir).start()
        print(f"started {name} on port {server.port} in {time.monotonic() - started:.1f}s", flush=True)
        env[var] = server.url
        (data_dir / "kind").write_text(name)
        (data_dir / "port").write_text(str(server.port))
    ENV_FILE.write_text("".join(f"export {k}={v}\n" for k, v in env.items()))
    return env


def _stop_recorded(cls: type[Server], data_dir: Path) -> bool:
    """Stop the server whose port ``data_dir`` records; False when none is recorded."""
    port_file = data_dir / "port"
    try:
        port = int(port_file.read_text())
    except (FileNotFoundError, ValueError):
        return False  # not started, or already stopped by another `stop`
    cls(data_dir, port).stop()
    port_file.unlink(missing_ok=True)
    return True


def stop_all() -> None:
    for name, (cls, _var) in SERVERS.items():
        if _stop_recorded(cls, SERVICES_DIR / name):
            print(f"stopped {name}", flush=True)
    ENV_FILE.unlink(missing_ok=True)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("start", "stop"):
        print(
            "usage: python -m tests.servers start [redis mariadb postgres rabbitmq moto] | stop",
            file=sys.stderr,
        )
        return 2
    if argv[0] == "stop":
        stop_all()
        return 0
    names = argv[1:] or list(SERVERS)
    unknown = sorted(set(names) - set(SERVERS))
    if unknown:
        print(f"unknown servers: {unknown}; choose from {sorted(SERVERS)}", file=sys.stderr)
        return 2
    try:
        start_all(names)
    except Exception as exc:
        print(f"failed to start servers: {exc}", file=sys.stderr)
        stop_all()
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
