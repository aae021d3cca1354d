#!/usr/bin/env bash
# Sets up a fresh machine: torch first (the CPU build where it is available locally), then lightning-td3.
# Pass extras as the first argument, e.g. `bash scripts/setup.sh test` or `bash scripts/setup.sh carla`.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q "torch==2.13.0" 2>/dev/null || python3 -m pip install -q "torch>=2.4"
extras="${1:-}"
python3 -m pip install -q -e ".${extras:+[$extras]}"
