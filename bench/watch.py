#!/usr/bin/env python3
"""Receiver rate with 0, 1 and 10 `glwatch tail -f` followers on the local watch socket.

For each follower count: a fresh release `glwatch --headless` (fsync journal) in a temporary directory, the
followers started and connected, a warm-up, then `glwatch send` with 64 keep-alive connections for a fixed
duration. Reports the receiver's rate and latency, and checks that every follower printed every journaled record
(once, in order). Prints a Markdown table; nothing is written to the repository.

Usage: cargo build --release --bin glwatch && bench/watch.py [--duration SECONDS] [--followers 0,1,10]
(GLWATCH_BIN=PATH picks another build.)
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GLWATCH = Path(os.environ.get("GLWATCH_BIN", ROOT / "target" / "release" / "glwatch")).resolve()
SECRET = "bench-secret-0123456789"
ENV = dict(os.environ, GLWATCH_LOG="warn")


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def start_receiver(work):
    proc = subprocess.Popen(
        [str(GLWATCH), "--headless", "--listen", "127.0.0.1:0", "--secret", SECRET],
        cwd=work, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    for line in proc.stderr:
        if line.startswith("glwatch: listening on https://"):
            port = int(line.strip().rstrip("/").rsplit(":", 1)[1])
        if line.startswith("glwatch: watch socket"):
            return proc, port
    raise RuntimeError("glwatch did not start")


def lines(path):
    with open(path, "rb") as f:
        return f.read().splitlines()


def run(n, duration, warmup):
    with tempfile.TemporaryDirectory(prefix="glwatch-watch-bench-") as work:
        proc, port = start_receiver(work)
        url = f"https://localhost:{port}/"
        cert = Path(work) / "certs" / "glwatch-cert.pem"
        outs = [Path(work) / f"follower-{i}.ndjson" for i in range(n)]
        followers = [
            subprocess.Popen([str(GLWATCH), "tail", "-f"], cwd=work, env=ENV, stdout=open(o, "wb"),
                             stderr=subprocess.DEVNULL)
            for o in outs
        ]
        try:
            load = [str(GLWATCH), "send", url, "--ca", str(cert), "--secret", SECRET, "--no-challenge",
                    "--type", "audit-log", "--concurrency", "64", "--json", "--quiet"]
            subprocess.run(load + ["--duration", f"{warmup}s"], env=ENV, capture_output=True, check=True)
            r = subprocess.run(load + ["--duration", f"{duration}s"], env=ENV, capture_output=True, text=True,
                               check=True)
            summary = json.loads(r.stdout)
            journal = lines(Path(work) / "glwatch-data" / "journal.jsonl")
            # Followers drain what they were behind by; bounded wait.
            deadline = time.time() + 120
            caught_up = 0.0
            while outs and time.time() < deadline:
                if all(len(lines(o)) >= len(journal) for o in outs):
                    caught_up = time.time()
                    break
                time.sleep(0.2)
            complete = all(lines(o) == journal for o in outs)
            return {
                "followers": n,
                "rate": summary.get("throughput_per_s", 0),
                "p50_ms": summary.get("latency_ms", {}).get("p50"),
                "p99_ms": summary.get("latency_ms", {}).get("p99"),
                "records": len(journal),
                "every_follower_complete": complete if outs else None,
                "summary": summary,
                "caught_up": bool(caught_up) if outs else None,
            }
        finally:
            for f in followers:
                f.kill()
                f.wait()
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--followers", default="0,1,10")
    a = p.parse_args()
    if not GLWATCH.exists():
        sys.exit("build first: cargo build --release --bin glwatch")
    rows = []
    for n in [int(x) for x in a.followers.split(",")]:
        log(f"{n} followers, {a.duration}s ...")
        rows.append(run(n, a.duration, a.warmup))
    print("| followers | events/s | p50 ms | p99 ms | records | every follower got every record |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        ok = "n/a" if r["every_follower_complete"] is None else ("yes" if r["every_follower_complete"] else "NO")
        print(f"| {r['followers']} | {r['rate']:.0f} | {r['p50_ms']} | {r['p99_ms']} | {r['records']} | {ok} |")


if __name__ == "__main__":
    main()
