#!/usr/bin/env bash
# Start-up time against journal size: writes a journal of N records (default 100000 and 1000000) in 64M segments,
# starts the release binary headless over it and measures the time until its port answers a signed delivery.
# Usage: bench/startup.sh [N...]   (needs python3, curl and openssl; builds target/release/glwatch if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
# GLWATCH_BIN=target/debug/glwatch measures a debug build instead (slower, same shape).
BIN=${GLWATCH_BIN:-$PWD/target/release/glwatch}
[ -x "$BIN" ] || cargo build --release --bin glwatch
BIN=$(realpath "$BIN")
SECRET=bench-startup-secret
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(100000 1000000)
for n in "${sizes[@]}"; do
  work=$(mktemp -d); mkdir -p "$work/glwatch-data"
  python3 - "$work/glwatch-data/journal.jsonl" "$n" <<'PY'
import sys, os
base, n = sys.argv[1], int(sys.argv[2])
seg, size, out = 0, 0, open(base, "w")
for seq in range(1, n + 1):
    line = ('{"seq":%d,"kind":"event","received_at":"2026-11-30T08:00:00Z","peer":"127.0.0.1:1",'
            '"verified_by":"primary","duplicate":false,"event":{"specversion":"1.0","id":"old-%d",'
            '"source":"//bench","type":"com.hpe.greenlake.audit-log.v1.logs.created","data":{"n":%d}}}\n') % (seq, seq, seq)
    if size + len(line) > 64 * 1024 * 1024:
        out.close(); seg += 1; size = 0
        out = open(base.replace("journal.jsonl", "journal.%06d.jsonl" % seg), "w")
    out.write(line); size += len(line)
out.close()
PY
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  body='{"specversion":"1.0","id":"new-1","source":"//bench","type":"com.hpe.greenlake.audit-log.v1.logs.created"}'
  sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$SECRET" | sed 's/^.* //')
  start=$(date +%s.%N)
  (cd "$work" && exec "$BIN" --headless --listen "127.0.0.1:$port" --secret "$SECRET" >/dev/null 2>"$work/stderr") &
  pid=$!
  until curl -ksf -o /dev/null -H "Content-Type: application/cloudevents+json" \
      -H "Hpe-Webhook-Signature: sha256=$sig" --data-binary "$body" "https://127.0.0.1:$port/"; do sleep 0.01; done
  end=$(date +%s.%N)
  kill "$pid"; wait "$pid" || true
  printf '%8d records, %3d segments: answered a delivery %.2f s after start\n' "$n" \
    "$(ls "$work/glwatch-data" | grep -c jsonl)" "$(echo "$end - $start" | bc)"
  grep "records replayed" "$work/stderr" | sed 's/^/          /'
  rm -rf "$work"
done
