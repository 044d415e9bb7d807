"""Launch the four Claystream services as uvicorn child processes against a stack."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from claystream_devstack.processes import free_port, kill_hard, pid_alive, port_is_free, read_pid, spawn, stop_process
from claystream_devstack.servers import EmbeddedStack


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    app_factory: str
    default_port: int
    package: str = ""  # a role run from another service's package reads that package's settings

    @property
    def settings_package(self) -> str:
        return self.package or self.name

    @property
    def env_prefix(self) -> str:
        return f"CLAYSTREAM_{self.settings_package.upper()}_"


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("annotate", "claystream_annotate.main:create_app", 8000),
    ServiceSpec("ingest", "claystream_ingest.main:create_app", 8001),
    ServiceSpec("trainer", "claystream_trainer.main:create_app", 8002),
    ServiceSpec("monitor", "claystream_monitor.main:create_app", 8003),
    # stateless predict replicas: the trainer package's second app factory (docs/SCALING.md)
    ServiceSpec("predict", "claystream_trainer.predict_main:create_app", 8004, package="trainer"),
)
SERVICE_BY_NAME = {spec.name: spec for spec in SERVICES}


class ServiceLauncher:
    """Start / stop / kill services; every one gets the stack's connection settings."""

    def __init__(self, stack: EmbeddedStack, *, extra_env: dict[str, str] | None = None) -> None:
        self.stack = stack
        self.extra_env = dict(extra_env or {})
        self.specs: dict[str, ServiceSpec] = dict(SERVICE_BY_NAME)
        self.ports: dict[str, int] = {}
        self._load_ports()

    def _ports_file(self) -> Path:
        return self.stack.state_dir / "services.json"

    def _load_ports(self) -> None:
        import json

        try:
            self.ports = json.loads(self._ports_file().read_text())
        except (FileNotFoundError, ValueError):
            self.ports = {}

    def _save_ports(self) -> None:
        import json

        self._ports_file().write_text(json.dumps(self.ports))

    def add_replica(self, base: str, index: int) -> str:
        """One more process of ``base`` (same settings, its own port, pid and log): ``<base>-<index>``."""
        spec = self.specs[base]
        name = f"{base}-{index}"
        self.specs[name] = ServiceSpec(name, spec.app_factory, spec.default_port, package=spec.settings_package)
        if name not in self.ports:
            self.ports[name] = free_port(None)
        return name

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def dev_secrets(self) -> dict[str, str]:
        """Per-state-folder secrets shared by the local services (generated once)."""
        import json
        import secrets

        path = self.stack.state_dir / "secrets.json"
        try:
            return dict(json.loads(path.read_text()))
        except (FileNotFoundError, ValueError):
            values = {"SECRET_KEY": secrets.token_urlsafe(32), "SERVICE_TOKEN": secrets.token_urlsafe(32)}
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
            path.chmod(0o600)
            return values

    def env_for(self, spec: ServiceSpec) -> dict[str, str]:
        env = {
            **self.stack.env(spec.env_prefix),
            **{f"{spec.env_prefix}{key}": value for key, value in self.dev_secrets().items()},
            f"{spec.env_prefix}MODE": "development",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
        }
        for other in SERVICES:  # services find each other through these
            if other.name in self.ports and other.name != spec.name:
                env[f"{spec.env_prefix}{other.name.upper()}_URL"] = self.url(other.name)
        env[f"{spec.env_prefix}MODELS_DIR"] = str(self.stack.state_dir / "models")
        env[f"{spec.env_prefix}STATE_DIR"] = str(self.stack.state_dir)
        env.update(self.extra_env)
        return env

    def start(self, names: tuple[str, ...] | None = None, *, timeout_s: float = 120.0) -> None:
        names = names or tuple(spec.name for spec in SERVICES)
        for name in names:
            spec = self.specs[name]
            pid = read_pid(self.stack.state_dir, name)
            running = pid is not None and pid_alive(pid)
            if name not in self.ports or (not running and not port_is_free(self.ports[name])):  # taken since the last run
                self.ports[name] = free_port(None if self.stack.free_ports else spec.default_port)
        self._save_ports()
        for name in names:
            self.start_one(name)
        self.wait_ready(names, timeout_s=timeout_s)

    def start_one(self, name: str) -> None:
        spec = self.specs[name]
        pid = read_pid(self.stack.state_dir, name)
        if pid is not None and pid_alive(pid):
            return
        if name not in self.ports:
            self.ports[name] = free_port(None if self.stack.free_ports else spec.default_port)
        port = self.ports[name]
        self._save_ports()
        spawn(
            name,
            [sys.executable, "-m", "uvicorn", "--factory", spec.app_factory, "--host", "127.0.0.1",
             "--port", str(port), "--no-access-log", "--timeout-graceful-shutdown", "10"],
            state_dir=self.stack.state_dir,
            env=self.env_for(spec),
        )

    def wait_ready(self, names: tuple[str, ...], *, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        pending = list(names)
        while pending:
            for name in list(pending):
                pid = read_pid(self.stack.state_dir, name)
                if pid is None or not pid_alive(pid):
                    log = self.stack.state_dir / "logs" / f"{name}.log"
                    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
                    raise RuntimeError(f"service {name} exited at start; {log}:\n{tail}")
                try:
                    if httpx.get(f"{self.url(name)}/readyz", timeout=2).status_code == 200:
                        pending.remove(name)
                except httpx.HTTPError:
                    pass
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"services not ready after {timeout_s:.0f}s: {pending}")
            if pending:
                time.sleep(0.2)

    def stop(self, names: tuple[str, ...] | None = None) -> None:
        for name in names or tuple(self.specs):
            stop_process(self.stack.state_dir, name, timeout_s=15)

    def kill(self, name: str) -> None:
        kill_hard(self.stack.state_dir, name)
