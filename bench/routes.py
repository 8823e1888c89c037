#!/usr/bin/env python3
"""Receiver rate with a route whose destination always fails, against no route, in one run.

Conditions, each a fresh release `glwatch --headless` (default fsync journal) in a temporary directory:
  none     no route
  503      one route (`--forward`) to a local HTTP server that answers every request 503
  refused  one route to a loopback port nothing listens on (connection refused)
  200      one route to a local HTTP server that answers 204 (for comparison: a route that keeps delivering)
Rounds alternate the conditions (none, 503, refused, 200, none, ...), so drift of the shared machine spreads over
all of them. Each run: warm-up, then `glwatch send` with 64 keep-alive connections for a fixed duration; at the
end `glwatch routes` asks the receiver for the route's state, so a failing route is seen failing with its
backlog. Prints a Markdown table; nothing is written to the repository.

Usage: cargo build --release --bin glwatch && bench/routes.py [--duration SECONDS] [--rounds N]
(GLWATCH_BIN=PATH picks another build.)
"""
import argparse
import http.server
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GLWATCH = Path(os.environ.get("GLWATCH_BIN", ROOT / "target" / "release" / "glwatch")).resolve()
SECRET = "bench-secret-0123456789"
ENV = dict(os.environ, GLWATCH_LOG="warn")
CONDITIONS = ["none", "503", "refused", "200"]


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


class Destination(http.server.BaseHTTPRequestHandler):
    """Answers every POST with the server's status after reading the body."""

    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.server.requests += 1
        self.send_response(self.server.status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # A receiver stopped mid-request resets its connection: not worth a traceback.
        pass


def destination(status):
    server = QuietServer(("127.0.0.1", 0), Destination)
    server.status = status
    server.requests = 0
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_receiver(work, extra):
    proc = subprocess.Popen(
        [str(GLWATCH), "--headless", "--listen", "127.0.0.1:0", "--secret", SECRET] + extra,
        cwd=work, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    port = None
    for line in proc.stderr:
        if line.startswith("glwatch: listening on https://"):
            port = int(line.strip().rstrip("/").rsplit(":", 1)[1])
        if line.startswith("glwatch: watch socket"):
            # Keep draining stderr so the receiver never blocks on a full pipe.
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
            return proc, port
    raise RuntimeError("glwatch did not start")


def route_state(work):
    out = subprocess.run([str(GLWATCH), "routes"], cwd=work, env=ENV, capture_output=True, text=True, timeout=60)
    rows = [l for l in out.stdout.splitlines() if l.startswith("forward")]
    if not rows:
        return None
    line = rows[0]
    nums = line[29:].split()
    return {"state": line[17:29].strip(), "backlog": int(nums[1]), "delivered": int(nums[2]),
            "failures": int(nums[3]), "error": " ".join(nums[5:])}


def run(condition, duration, warmup, servers):
    extra = []
    if condition == "503":
        extra = ["--forward", f"http://127.0.0.1:{servers['503'].server_address[1]}/hook"]
    elif condition == "refused":
        extra = ["--forward", f"http://127.0.0.1:{closed_port()}/hook"]
    elif condition == "200":
        extra = ["--forward", f"http://127.0.0.1:{servers['200'].server_address[1]}/hook"]
    with tempfile.TemporaryDirectory(prefix="glwatch-routes-bench-") as work:
        proc, port = start_receiver(work, extra)
        try:
            cert = Path(work) / "glwatch-data" / "certs" / "glwatch-cert.pem"
            load = [str(GLWATCH), "send", f"https://localhost:{port}/", "--ca", str(cert), "--secret", SECRET,
                    "--no-challenge", "--type", "audit-log", "--concurrency", "64", "--json", "--quiet"]
            subprocess.run(load + ["--duration", f"{warmup}s"], env=ENV, capture_output=True, check=True)
            r = subprocess.run(load + ["--duration", f"{duration}s"], env=ENV, capture_output=True, text=True,
                               check=True)
            summary = json.loads(r.stdout)
            state = route_state(work) if condition != "none" else None
            return {"condition": condition, "rate": summary.get("throughput_per_s", 0),
                    "p99_ms": summary.get("latency_ms", {}).get("p99"), "route": state}
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--conditions", default=",".join(CONDITIONS))
    a = p.parse_args()
    if not GLWATCH.exists():
        sys.exit("build first: cargo build --release --bin glwatch")
    servers = {"503": destination(503), "200": destination(204)}
    conditions = a.conditions.split(",")
    runs = []
    for i in range(a.rounds):
        for c in conditions:
            log(f"round {i + 1}/{a.rounds}: {c}, {a.duration}s ...")
            runs.append(run(c, a.duration, a.warmup, servers))
            log(f"  {runs[-1]['rate']:.0f} events/s, route {runs[-1]['route']}")
    base = statistics.median(r["rate"] for r in runs if r["condition"] == "none") if "none" in conditions else None
    print("| route | events/s (median) | runs | each run | p99 ms (median) | vs no route | route state at the end |")
    print("|---|---|---|---|---|---|---|")
    for c in conditions:
        rs = [r for r in runs if r["condition"] == c]
        med = statistics.median(r["rate"] for r in rs)
        p99 = statistics.median(r["p99_ms"] for r in rs if r["p99_ms"] is not None)
        each = ", ".join(f"{r['rate']:,.0f}" for r in rs)
        ratio = f"{med / base:.3f}" if base else "n/a"
        states = [r["route"] for r in rs if r["route"]]
        state = "; ".join(
            f"{s['state']}, backlog {s['backlog']:,}, delivered {s['delivered']:,}, failures {s['failures']}"
            + (f", last error: {s['error']}" if s["error"] else "")
            for s in states[-1:]
        ) or "–"
        print(f"| {c} | {med:,.0f} | {len(rs)} | {each} | {p99} | {ratio} | {state} |")
    print()
    print(f"destination requests: 503 server {servers['503'].requests}, 204 server {servers['200'].requests}")


if __name__ == "__main__":
    main()
