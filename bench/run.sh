#!/usr/bin/env bash
# One command for the receiver benchmark: installs the contenders' runtimes into bench/.tools (ignored by git),
# builds glwatch and the bare server in release mode, runs every contender and writes bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs
fi
if [ ! -x bench/.tools/venv/bin/gunicorn ]; then
  python3 -m venv bench/.tools/venv
  bench/.tools/venv/bin/pip install --quiet flask gunicorn
fi
cargo build --release --locked --bin glwatch --example bare_hyper
exec python3 bench/run.py "$@"
