#!/usr/bin/env bash
# One command for the receiver benchmark: installs the contenders' runtimes (Node, wrk and taskset from Debian,
# Flask into bench/.tools, ignored by git), builds glwatch and the bare server in release mode, runs every
# contender (server and load generator pinned to different CPUs where there are two or more) and writes
# bench/RESULTS.md. Arguments go to bench/run.py (--duration, --runs, --only, --no-pin).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v node >/dev/null || missing+=(nodejs)
command -v wrk >/dev/null || missing+=(wrk)
command -v taskset >/dev/null || missing+=(util-linux)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
if [ ! -x bench/.tools/venv/bin/gunicorn ]; then
  python3 -m venv bench/.tools/venv
  bench/.tools/venv/bin/pip install --quiet flask gunicorn
fi
cargo build --release --locked --bin glwatch --example bare_hyper
exec python3 bench/run.py "$@"
