#!/usr/bin/env bash
# Reruns every benchmark of bench/ and rewrites its section of bench/RESULTS.md.
#
#   bash bench/run_all.sh [BASE_PYTHON]
#
# BASE_PYTHON (optional): the python of a second install (a worktree of the commit to compare
# against, in its own venv) for the before/after tables (bench_ab.py, bench_startup.py).
# Every load is bounded in time and goes to loopback only. The soak alone takes 20 minutes;
# SKIP_SOAK=1 leaves it out.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"
base=${1:-}
results="$here/RESULTS.md"
bash nginx.sh start
python bench_engine.py --rounds 5 --duration 5 --write "$results"
python bench_runbook.py --rounds 20 --duration 1
python bench_scale.py --rounds 3 --duration 10 --write "$results"
python bench_console.py --rounds 3 --duration 8 --write "$results"
python bench_console.py --keep-up -c 10000 --duration 40 --write "$results"
python bench_churn.py --write "$results"
if [ -n "$base" ]; then
  python bench_ab.py --base "$base" --rounds 5 --duration 5 --write "$results"
  python bench_startup.py --base "$base" --write "$results"
else
  python bench_startup.py --write "$results"
fi
if [ -z "${SKIP_SOAK:-}" ]; then
  python bench_soak.py --write "$results"
fi
