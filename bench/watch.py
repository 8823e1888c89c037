#!/usr/bin/env python3
"""Receiver rate with 0, 1 and 10 `glwatch tail -f` followers on the local watch socket, and with one stalled
subscriber.

For each row: a fresh release `glwatch --headless` (fsync journal) in a temporary directory, the followers started
and connected, a warm-up, then `glwatch send` with 64 keep-alive connections for a fixed duration. Reports the
receiver's rate and latency, and checks that every follower printed every journaled record (once, in order).
The `stalled` row opens `/v1/stream?after=0` on the socket with a raw client that reads nothing while the load
runs, then reads it all and checks that the ids are exactly 1..N in order. Prints a Markdown table; nothing is
written to the repository.

Usage: cargo build --release --bin glwatch && bench/watch.py [--duration SECONDS] [--followers 0,1,10,stalled]
(GLWATCH_BIN=PATH picks another build.)
"""
import argparse
import json
import os
import signal
import socket
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


class Stalled:
    """A subscriber that opens the stream and then reads nothing until told to."""

    def __init__(self, sock_path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(sock_path))
        self.sock.sendall(b"GET /v1/stream?after=0 HTTP/1.1\r\nHost: x\r\n\r\n")
        self.raw = b""

    def read_ids(self, last, deadline):
        """Reads until the event with id `last` arrived; returns the ids seen, in order."""
        self.sock.settimeout(5)
        needle = f"id: {last}\n".encode()
        chunks, tail = [], b""
        while time.time() < deadline:
            try:
                data = self.sock.recv(1 << 20)
            except socket.timeout:
                # Idle: the needle may have been split by a chunk header; look in the decoded body.
                self.raw = b"".join(chunks)
                if needle in self.body():
                    break
                continue
            if not data:
                break
            chunks.append(data)
            window = tail + data
            if needle in window:
                break
            tail = window[-256:]
        self.raw = b"".join(chunks)
        return [int(l[4:]) for l in self.body().split(b"\n") if l.startswith(b"id: ")]

    def body(self):
        """The response body with the chunked transfer coding removed."""
        head, _, rest = self.raw.partition(b"\r\n\r\n")
        if b"transfer-encoding: chunked" not in head.lower():
            return rest
        out, pos = [], 0
        while True:
            end = rest.find(b"\r\n", pos)
            if end < 0:
                break
            size = int(rest[pos:end].split(b";")[0] or b"0", 16)
            if size == 0:
                break
            out.append(rest[end + 2:end + 2 + size])
            pos = end + 2 + size + 2
        return b"".join(out)


def journal_lines(data):
    """Every line of every journal segment (journal.jsonl, journal.000001.jsonl, ...), in order."""
    def index(p):
        parts = p.name.split(".")
        return int(parts[1]) if len(parts) == 3 else 0
    segments = sorted(data.glob("journal*.jsonl"), key=index)
    return [line for seg in segments for line in lines(seg)]


def run(n, duration, warmup):
    stalled_row = n == "stalled"
    n = 0 if stalled_row else n
    with tempfile.TemporaryDirectory(prefix="glwatch-watch-bench-") as work:
        proc, port = start_receiver(work)
        stalled = Stalled(Path(work) / "glwatch-data" / "glwatch.sock") if stalled_row else None
        url = f"https://localhost:{port}/"
        cert = Path(work) / "glwatch-data" / "certs" / "glwatch-cert.pem"
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
            journal = journal_lines(Path(work) / "glwatch-data")
            # Followers drain what they were behind by; bounded wait.
            deadline = time.time() + 120
            caught_up = 0.0
            while outs and time.time() < deadline:
                if all(len(lines(o)) >= len(journal) for o in outs):
                    caught_up = time.time()
                    break
                time.sleep(0.2)
            complete = all(lines(o) == journal for o in outs)
            if stalled:
                ids = stalled.read_ids(len(journal), time.time() + 300)
                complete = ids == list(range(1, len(journal) + 1))
                if not complete:
                    wrong = next((i for i, s in enumerate(ids) if s != i + 1), len(ids))
                    log(f"stalled subscriber: {len(ids)} ids for {len(journal)} records, first wrong at index {wrong}: "
                        f"{ids[max(0, wrong - 2):wrong + 3]}")
                outs = [stalled]
            return {
                "followers": "1 stalled" if stalled else n,
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
    p.add_argument("--followers", default="0,1,10,stalled")
    a = p.parse_args()
    if not GLWATCH.exists():
        sys.exit("build first: cargo build --release --bin glwatch")
    rows = []
    for n in [x if x == "stalled" else int(x) for x in a.followers.split(",")]:
        log(f"{n} followers, {a.duration}s ...")
        rows.append(run(n, a.duration, a.warmup))
    base = next((r["rate"] for r in rows if r["followers"] == 0), None)
    print("| followers | events/s | vs unwatched | p50 ms | p99 ms | records | every follower got every record |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        ok = "n/a" if r["every_follower_complete"] is None else ("yes" if r["every_follower_complete"] else "NO")
        ratio = f"{r['rate'] / base:.2f}" if base else "n/a"
        print(f"| {r['followers']} | {r['rate']:.0f} | {ratio} | {r['p50_ms']} | {r['p99_ms']} | {r['records']} | {ok} |")


if __name__ == "__main__":
    main()
