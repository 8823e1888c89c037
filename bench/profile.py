#!/usr/bin/env python3
"""Where the receiver's CPU goes per event, component by component, beside the bare hyper + rustls server.

For each server (glwatch headless with `--durability os`, then bare): the server is pinned to the first CPU and
`glwatch send` (64 connections, signed audit-log events) to the second, as in bench/run.sh. One run measures the
server's CPU time per event from /proc without a profiler; a second run samples the server with
`perf record --call-graph dwarf` and sorts every sample into a component by its stack. A component's µs per event
is its share of the samples times the unprofiled CPU per event. Prints a markdown table.

Needs perf (Debian: linux-perf) and the release builds bench/run.sh makes.

Usage: bench/profile.py [--duration SECONDS] [--frequency HZ]
"""
import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (the same helpers as the benchmark: ports, pinning, certificates)

# First match wins, so the specific come before the general. Committer samples are told apart by the thread's name.
COMMITTER = [
    ("committer: journal write (into the page cache)", ["JournalWriter", "journal::"]),
    ("committer: duplicate window (key digest, table)", ["dedup::"]),
    ("committer: record line (serialising)", ["write_line", "Serialize for glwatch::record", "record::timestamp"]),
    ("committer: waiting for work, waking", ["Bell::sleep", "park", "futex"]),
    ("committer: answering the requests", ["oneshot::"]),
    ("committer: NDJSON on stdout", ["StdoutSink"]),
    ("committer: staging records, group bookkeeping", [""]),
]
WORKER = [
    ("HMAC-SHA256 of the body", ["signature::Verifier", "sha2::"]),
    ("event checks (one JSON pass, shape scan, UTF-8)", ["cloudevent::"]),
    ("response write: TLS seal, TCP send", ["poll_write_vectored", "poll_flush", "write_tls"]),
    ("request read: TCP receive, TLS open, HTTP parse", ["poll_read_head", "poll_fill_buf", "read_io",
                                                         "poll_read_from_io", "poll_read_body", "poll_frame"]),
    ("commit hand-off: queue and wait for the answer", ["Pipeline::commit", "Bell::queued", "before_park",
                                                        "mpsc::"]),
    ("handler: clocks, timers, metrics, answer, frees", ["handler::", "Handler::", "watch::metrics"]),
    ("hyper dispatch", ["hyper::", "hyper_util::"]),
    ("runtime: scheduling, epoll, timers", ["tokio::", "mio::"]),
]


def samples(script):
    """(thread name, stack text) for every sample in `perf script` output."""
    comm, stack = None, []
    for line in script.splitlines():
        if not line.strip():
            if stack:
                yield comm, "\n".join(stack)
            comm, stack = None, []
        elif not line.startswith((" ", "\t")):
            comm, stack = line.split()[0], []
        else:
            stack.append(line.strip())
    if stack:
        yield comm, "\n".join(stack)


def categorise(script):
    counts = collections.Counter()
    for comm, stack in samples(script):
        table = COMMITTER if (comm or "").startswith("glwatch-commit") else WORKER
        name = next((n for n, keys in table if any(k in stack for k in keys)), "other (kernel work outside these)")
        counts[name] += 1
    return counts


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(name, cmd, port, glwatch, cert, cpus, duration, frequency, work):
    env = dict(os.environ, GLWATCH_SECRET=run.SECRET, GLWATCH_LOG="warn")
    server = subprocess.Popen(run.pinned(cmd, cpus[0]), cwd=work, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        run.wait_port(port, server)
        url = f"https://localhost:{port}/"
        load = ["--no-challenge", "--type", "audit-log", "--concurrency", str(run.CONNECTIONS), "--json"]
        run.send(glwatch, url, cert, cpus[1], *load, "--duration", "2s")
        before = cpu_seconds(server.pid)
        res, _ = run.send(glwatch, url, cert, cpus[1], *load, "--duration", f"{duration}s")
        rate = json.loads(res.stdout)["throughput_per_s"]
        per_event = (cpu_seconds(server.pid) - before) / (rate * duration) * 1e6
        data = work / f"{name}.perf"
        perf = subprocess.Popen(["perf", "record", "-q", "--call-graph", "dwarf,16384", "-F", str(frequency), "-p",
                                 str(server.pid), "-o", str(data), "--", "sleep", str(duration - 1)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        run.send(glwatch, url, cert, cpus[1], *load, "--duration", f"{duration}s")
        perf.wait()
    finally:
        server.terminate()
        server.wait()
    script = subprocess.run(["perf", "script", "-i", str(data)], capture_output=True, text=True).stdout
    counts = categorise(script)
    total = sum(counts.values()) or 1
    run.log(f"{name}: {rate:,.0f} events/s, {per_event:.1f} µs of server CPU per event, {total} samples")
    return rate, per_event, {k: v / total * per_event for k, v in counts.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--frequency", type=int, default=400)
    ap.add_argument("--glwatch", default=str(run.ROOT / "target/release/glwatch"))
    ap.add_argument("--bare", default=str(run.ROOT / "target/release/examples/bare_hyper"))
    args = ap.parse_args()
    if not shutil.which("perf"):
        sys.exit("profile.py needs perf (Debian: apt-get install linux-perf)")
    cpus = run.cpu_halves(True)
    if not cpus[0]:
        sys.exit("profile.py needs two CPUs and taskset: the server and the load generator each get their own")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cert, key = run.certificate(args.glwatch, work)
        port = run.free_port()
        glwatch_cmd = [args.glwatch, "--headless", "--listen", f"127.0.0.1:{port}", "--cert", str(cert), "--key",
                       str(key), "--journal", str(work / "journal.jsonl"), "--durability", "os"]
        g = measure("glwatch", glwatch_cmd, port, args.glwatch, cert, cpus, args.duration, args.frequency, work)
        port = run.free_port()
        bare_cmd = [args.bare, f"127.0.0.1:{port}", str(cert), str(key)]
        b = measure("bare", bare_cmd, port, args.glwatch, cert, cpus, args.duration, args.frequency, work)
    names = [n for n, _ in WORKER + COMMITTER] + ["other (kernel work outside these)"]
    print("| component | glwatch `--durability os` µs/event | bare µs/event |")
    print("|---|---|---|")
    for n in names:
        if g[2].get(n, 0) >= 0.05 or b[2].get(n, 0) >= 0.05:
            print(f"| {n} | {g[2].get(n, 0):.1f} | {b[2].get(n, 0):.1f} |")
    print(f"| **total server CPU per event** | **{g[1]:.1f}** | **{b[1]:.1f}** |")
    print(f"| events/s in the unprofiled run | {g[0]:,.0f} | {b[0]:,.0f} |")


if __name__ == "__main__":
    main()
