#!/usr/bin/env bash
# The prepared GPU run (issues 20, 24): one device call with timeout_s 540; see scripts/gpu_run.py
# and the README's "On a lent GPU". Here first: python3 scripts/gpu_run.py prepare.
# There: bash scripts/gpu_run.sh [--carried .carry/gpu-returned] [--steps ...]
# GPU_RUN_MINUTES: the call's own limit (default 8.75: 525 s, inside the 540 s of timeout_s).
set -uo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?the device call sets OUT}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >> "$OUT/log.txt" 2>&1 || true
exec python3 scripts/gpu_run.py run --minutes "${GPU_RUN_MINUTES:-8.75}" "$@"
