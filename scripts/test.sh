#!/usr/bin/env bash
# Sets up this machine with the test extras and runs ruff and the test suite (no CARLA server needed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
python3 -m ruff check .
python3 -m pytest -q "$@"
