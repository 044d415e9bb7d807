#!/usr/bin/env bash
# The run command: set up what is missing, start the embedded stack, the four services and the demo.
# Usage: deploy/local/run.sh [--detach] [--no-demo] [--simulate] [--no-services]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
bash deploy/local/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec .venv/bin/python -m claystream_devstack up "$@"
