#!/usr/bin/env bash
# Idempotent set-up: Debian packages, the virtual environment and every Python package.
# Usage: deploy/local/setup.sh [--test]   (--test adds the test tools and Chromium)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
WITH_TEST=0
[[ "${1:-}" == "--test" ]] && WITH_TEST=1

apt_packages=()
command -v redis-server >/dev/null 2>&1 || apt_packages+=(redis-server)
if [[ $WITH_TEST == 1 ]]; then
  command -v chromium >/dev/null 2>&1 || apt_packages+=(chromium)
  # promtool / amtool check deploy/prometheus/ in tests/deploy (the packages' daemons are not started)
  command -v promtool >/dev/null 2>&1 || apt_packages+=(prometheus)
  command -v amtool >/dev/null 2>&1 || apt_packages+=(prometheus-alertmanager)
fi
if (( ${#apt_packages[@]} )); then
  echo "installing Debian packages: ${apt_packages[*]}"
  SUDO=""; [[ $(id -u) != 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" >/dev/null
  # the Debian package starts a system redis on 6379; we run our own on a chosen port
  (command -v systemctl >/dev/null && $SUDO systemctl disable --now redis-server >/dev/null 2>&1) || true
  for unit in prometheus prometheus-alertmanager prometheus-node-exporter; do
    (command -v systemctl >/dev/null && $SUDO systemctl disable --now "$unit" >/dev/null 2>&1) || true
  done
fi

PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [[ ! -x .venv/bin/python ]]; then
  echo "creating .venv"
  "$PY" -m venv .venv
fi
REQ=requirements.txt
[[ $WITH_TEST == 1 ]] && REQ=requirements-test.txt
STAMP=".venv/.installed-$(cat requirements*.txt libs/*/pyproject.toml services/*/pyproject.toml | sha256sum | cut -c1-16)-$WITH_TEST"
if [[ ! -f "$STAMP" ]]; then
  echo "installing Python packages ($REQ) ..."
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r "$REQ"
  touch "$STAMP"
fi
