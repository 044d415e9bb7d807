"""``claystream-dev``: bring the embedded stack and the services up or down.

    claystream-dev [--state-dir DIR] up [--detach] [--no-services] [--no-demo] [--simulate] [--free-ports]
    claystream-dev down
    claystream-dev status
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from claystream_devstack.servers import SERVERS, EmbeddedStack
from claystream_devstack.services import SERVICES, ServiceLauncher


def default_state_dir() -> Path:
    return Path(os.environ.get("CLAYSTREAM_STATE_DIR", Path.cwd() / ".state")).resolve()


def _print_urls(launcher: ServiceLauncher) -> None:
    stack = launcher.stack
    print("Claystream is up:")
    print(f"  Kafka (Tansu)      {stack.ports.kafka_bootstrap}")
    print(f"  MongoDB (nx-27017) {stack.ports.mongo_url}")
    print(f"  Redis              {stack.ports.redis_url}")
    for spec in SERVICES:
        if spec.name in launcher.ports:
            print(f"  {spec.name:<18} {launcher.url(spec.name)}   (docs: {launcher.url(spec.name)}/docs)")
    print(f"  logs and data      {stack.state_dir}")


def cmd_up(args: argparse.Namespace) -> int:
    stack = EmbeddedStack(args.state_dir, free_ports=True if args.free_ports else None)
    print(f"starting embedded servers in {stack.state_dir} ...", flush=True)
    stack.start()
    launcher = ServiceLauncher(stack)
    if not args.no_services:
        print("starting services ...", flush=True)
        try:
            launcher.start()
        except Exception:
            launcher.stop()
            stack.stop()
            raise
    _print_urls(launcher)
    if not args.no_services and not args.no_demo:
        from claystream_devstack.demo import run_demo

        run_demo(launcher, simulate=args.simulate, out_dir=Path(args.out_dir).resolve())
    if args.detach:
        print("detached: stop everything with `make stop` (or `.venv/bin/claystream-dev down`); the CLIs and the SDK are "
              "in .venv: `source .venv/bin/activate`")
        return 0
    print("press Ctrl-C to stop everything", flush=True)
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    while not stopping:
        time.sleep(0.5)
    print("\nstopping ...", flush=True)
    launcher.stop()
    stack.stop()
    print("stopped; nothing left running")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    stack = EmbeddedStack(args.state_dir)
    ServiceLauncher(stack).stop()
    stack.stop()
    print("stopped")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    stack = EmbeddedStack(args.state_dir)
    running = stack.running()
    launcher = ServiceLauncher(stack)
    from claystream_devstack.processes import pid_alive, read_pid

    for name in SERVERS:
        print(f"{name:<10} {'running' if running[name] else 'stopped'}")
    for spec in SERVICES:
        pid = read_pid(stack.state_dir, spec.name)
        state = "running" if pid and pid_alive(pid) else "stopped"
        print(f"{spec.name:<10} {state} {launcher.url(spec.name) if spec.name in launcher.ports else ''}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="claystream-dev")
    parser.add_argument("--state-dir", type=Path, default=default_state_dir())
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the embedded servers, the services and the demo")
    up.add_argument("--detach", action="store_true", help="return once everything is up")
    up.add_argument("--no-services", action="store_true", help="only the embedded servers")
    up.add_argument("--no-demo", action="store_true", help="skip the demo dataset")
    up.add_argument(
        "--free-ports",
        action="store_true",
        help="random free ports instead of the defaults (also CLAYSTREAM_DEV_FREE_PORTS=1); kept in the state folder",
    )
    up.add_argument("--simulate", action="store_true", help="simulate an annotator and production traffic")
    up.add_argument("--out-dir", default="out/demo", help="where the demo writes its report")
    up.set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop what `up` started").set_defaults(func=cmd_down)
    sub.add_parser("status", help="what is running").set_defaults(func=cmd_status)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
