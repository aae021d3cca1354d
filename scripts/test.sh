#!/usr/bin/env bash
# Sets up this machine (CPU torch first, then the project with its test extras) and runs the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q "torch==2.13.0" 2>/dev/null || python3 -m pip install -q "torch>=2.4"
python3 -m pip install -q -e ".[test]"
python3 -m ruff check .
python3 -m pytest -q "$@"
