#!/usr/bin/env bash
# The NATS benchmark: builds glwatch in release mode, runs the receiver with --nats (one local nats-server -js,
# R1) and with the journal, and writes the section of bench/RESULTS.md (and bench/NATS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v nats-server >/dev/null; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nats-server
fi
cargo build --release --locked --bin glwatch
exec python3 bench/nats.py "$@"
