"""Start / stop child processes by pid file; free-port helpers."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


FREE_PORTS_ENV = "CLAYSTREAM_DEV_FREE_PORTS"
_handed_out: set[int] = set()


def free_ports_requested() -> bool:
    """``CLAYSTREAM_DEV_FREE_PORTS=1``: never use the well-known default ports (tests beside a dev stack)."""
    return os.environ.get(FREE_PORTS_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def free_port(preferred: int | None = None) -> int:
    """``preferred`` when it is free, else a free port the OS picks (never one this process handed out before)."""
    if preferred and preferred not in _handed_out and port_is_free(preferred):
        _handed_out.add(preferred)
        return preferred
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _handed_out:
            _handed_out.add(port)
            return port
    raise RuntimeError("no free port found")


def spawn(name: str, argv: list[str], *, state_dir: Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> int:
    """Start a detached child (own session) logging to ``state_dir/logs/<name>.log``; write its pid file."""
    logs = state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    pids = state_dir / "pids"
    pids.mkdir(parents=True, exist_ok=True)
    log_file = open(logs / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
    process = subprocess.Popen(
        argv,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        cwd=str(cwd) if cwd else None,
        start_new_session=True,
    )
    log_file.close()
    (pids / f"{name}.pid").write_text(str(process.pid))
    return process.pid


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # reap if it is our zombie child
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True


def read_pid(state_dir: Path, name: str) -> int | None:
    path = state_dir / "pids" / f"{name}.pid"
    try:
        return int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def state_pids(state_dir: Path) -> dict[str, int]:
    """Every process the state folder holds a pid file of (servers and services), by name."""
    pids = {}
    for path in sorted((state_dir / "pids").glob("*.pid")):
        try:
            pids[path.stem] = int(path.read_text().strip())
        except (OSError, ValueError):
            continue
    return pids


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (0 once it is gone; its children not included)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """The processes below ``pid`` (its children, theirs, ...), from /proc: a service's worker processes."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def peak_rss_mb(pid: int) -> float:
    """A process's peak resident memory (VmHWM) in MB; NaN once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def stop_process(state_dir: Path, name: str, *, timeout_s: float = 10.0) -> bool:
    """SIGTERM the process group we started (by pid file), SIGKILL after the timeout."""
    pid = read_pid(state_dir, name)
    path = state_dir / "pids" / f"{name}.pid"
    if pid is None:
        return False
    if pid_alive(pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if pid_alive(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            while pid_alive(pid) and time.monotonic() < deadline + 5:
                time.sleep(0.05)
    path.unlink(missing_ok=True)
    return True


def kill_hard(state_dir: Path, name: str) -> None:
    """SIGKILL (crash tests)."""
    pid = read_pid(state_dir, name)
    if pid is not None and pid_alive(pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
