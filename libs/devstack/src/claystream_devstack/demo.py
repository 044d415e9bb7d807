"""The demo the run command ends with (filled in by the walkthrough work)."""

from __future__ import annotations

from pathlib import Path

from claystream_devstack.services import ServiceLauncher


def run_demo(launcher: ServiceLauncher, *, simulate: bool, out_dir: Path) -> None:
    print("demo: not available yet in this build")
