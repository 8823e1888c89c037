#!/usr/bin/env bash
# Start-up time against journal size: writes a journal of N records (default 10000, 100000 and 1000000) in 64M
# segments, starts the release binary headless over it and measures, from the moment it is started:
#   port  - until its port answers an HTTPS request (any status);
#   first - until it acknowledges a signed delivery (a new event: it waits for the duplicate window);
#   dup   - the same for a re-delivery of the journal's oldest event (answered as a duplicate when the window
#           reaches back that far);
# once with the default --dedup-window (1,000,000) and once with --dedup-window 10000, each twice: the first start
# over a journal without key indexes (as written by Python here, or by an older glwatch), then the next start, which
# reads the indexes the first one wrote; and prints the start-up summary line saying how much of the journal was
# read.
# Usage: bench/startup.sh [N...]   (needs python3, curl, openssl and bc; builds target/release/glwatch if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
# GLWATCH_BIN=target/debug/glwatch measures a debug build instead (slower, same shape).
BIN=${GLWATCH_BIN:-$PWD/target/release/glwatch}
[ -x "$BIN" ] || cargo build --release --bin glwatch
BIN=$(realpath "$BIN")
SECRET=bench-startup-secret
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(10000 100000 1000000)

now() { date +%s.%N; }
since() { printf '%.2f' "$(echo "$(now) - $1" | bc)"; }

# Posts a signed CloudEvent with id $2 to port $1; prints the body only on HTTP 200.
deliver() {
  local body sig
  body='{"specversion":"1.0","id":"'"$2"'","source":"//bench","type":"com.hpe.greenlake.audit-log.v1.logs.created"}'
  sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$SECRET" | sed 's/^.* //')
  curl -ksf -H "Content-Type: application/cloudevents+json" -H "Hpe-Webhook-Signature: sha256=$sig" \
    --data-binary "$body" "https://127.0.0.1:$1/"
}

for n in "${sizes[@]}"; do
  work=$(mktemp -d); mkdir -p "$work/glwatch-data"
  python3 - "$work/glwatch-data/journal.jsonl" "$n" <<'PY'
import sys
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
  segments=$(ls "$work/glwatch-data" | grep -c jsonl)
  mb=$(du -sm "$work/glwatch-data" | cut -f1)
  for window in 1000000 10000; do
    # Each window starts from the same journal, without key indexes (as one written by an older glwatch): the
    # first start reads closed segments' lines and writes their indexes, the next start reads the indexes.
    rm -rf "$work/run"; cp -r "$work/glwatch-data" "$work/run"
    for pass in first next; do
      port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
      sync
      start=$(now)
      "$BIN" --headless --listen "127.0.0.1:$port" --secret "$SECRET" --data-dir "$work/run" \
        --journal "$work/run/journal.jsonl" --dedup-window "$window" --no-watch-socket >/dev/null 2>"$work/stderr" &
      pid=$!
      until [ "$(curl -ks -o /dev/null -w '%{http_code}' "https://127.0.0.1:$port/" || true)" != 000 ]; do sleep 0.005; done
      port_s=$(since "$start")
      until reply=$(deliver "$port" "new-$pass" 2>/dev/null); do sleep 0.005; done
      first_s=$(since "$start")
      dup=$(deliver "$port" "old-1")
      dup_s=$(since "$start")
      kill "$pid"; wait "$pid" || true
      printf '%8d records (%3d segments, %4d MB), --dedup-window %7d, %5s start: port %5s s, first delivery %5s s, re-delivery of old-1 %5s s (%s)\n' \
        "$n" "$segments" "$mb" "$window" "$pass" "$port_s" "$first_s" "$dup_s" "$dup"
      grep "records replayed" "$work/stderr" | sed 's/^/          /'
    done
  done
  rm -rf "$work"
done
