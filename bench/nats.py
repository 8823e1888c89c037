#!/usr/bin/env python3
"""NATS benchmark: the receiver's rate publishing into JetStream (--nats, one node, R1) against the local journal,
in one run on one machine, with the load and measurement of bench/run.py (64 keep-alive connections of signed
~1 KB audit-log events from `glwatch send`). Writes bench/NATS.md, which run.py adds to bench/RESULTS.md when
that has no NATS section, and puts the same section into the current RESULTS.md.

Usage: bench/nats.sh [--duration SECONDS]
"""
import argparse
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402

MARK = "## NATS JetStream publishing"


def start_nats(work):
    port = bench.free_port()
    store = work / "nats-store"
    proc = subprocess.Popen(
        ["nats-server", "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(store)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    bench.wait_port(port, proc)
    return proc, f"nats://127.0.0.1:{port}"


def contenders(glwatch, cert, key, work, nats_url):
    env = dict(os.environ, GLWATCH_SECRET=bench.SECRET, GLWATCH_LOG="warn")
    out = []
    for name, label, extra in [
        ("glwatch-journal", "journal `--durability fsync`, no NATS", ["--durability", "fsync"]),
        ("glwatch-nats", "`--nats` (R1), `--no-journal`", ["--nats", nats_url, "--no-journal"]),
        ("glwatch-nats-journal", "`--nats` (R1) and the journal (`fsync`, written first)",
         ["--nats", nats_url, "--durability", "fsync"]),
    ]:
        d = work / name
        d.mkdir()
        # Each its own stream and subjects: streams may not share subjects.
        prefix = ["--nats-stream", name.upper().replace("-", "_"), "--nats-subject", name.replace("-", "_")]
        out.append(bench.Contender(
            name, label,
            lambda port, d=d, extra=extra, prefix=prefix: [
                str(glwatch), "--headless", "--listen", f"127.0.0.1:{port}", "--cert", str(cert), "--key", str(key),
                "--journal", str(d / "journal.jsonl"), "--no-watch-socket", *extra,
                *(prefix if "--nats" in extra else []),
            ],
            env=env, cwd=d, challenge=False,
        ))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--glwatch", default=str(bench.ROOT / "target/release/glwatch"))
    args = ap.parse_args()
    args.glwatch = str(Path(args.glwatch).resolve())
    if not shutil.which("nats-server"):
        sys.exit("bench: nats-server is not installed (apt-get install nats-server)")
    version = subprocess.run(["nats-server", "--version"], capture_output=True, text=True).stdout.strip()

    work = Path(tempfile.mkdtemp(prefix="glwatch-bench-nats-"))
    p = subprocess.Popen([args.glwatch, "--headless", "--listen", "127.0.0.1:0", "--no-journal"], cwd=work,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         env=dict(os.environ, GLWATCH_SECRET=bench.SECRET))
    for line in p.stderr:
        if b"listening on" in line:
            break
    p.terminate()
    p.wait()
    certs = next(d for d in (work / "glwatch-data" / "certs", work / "certs") if (d / "glwatch-cert.pem").exists())
    cert, key = certs / "glwatch-cert.pem", certs / "glwatch-key.pem"
    nats, url = start_nats(work)
    results, nats_cpu = {}, {}
    try:
        for c in contenders(args.glwatch, cert, key, work, url):
            before = bench.cpu_seconds([nats.pid])
            results[c.name] = bench.run_contender(c, args.glwatch, cert, args.duration, args.warmup)
            nats_cpu[c.name] = bench.cpu_seconds([nats.pid]) - before
            s = results[c.name].get("summary", {})
            bench.log(f"{c.name}: {s.get('throughput_per_s', 0):,.0f} events/s")
    finally:
        os.killpg(nats.pid, signal.SIGTERM)
        nats.wait()
        shutil.rmtree(work, ignore_errors=True)

    rate = lambda n: (results.get(n, {}).get("summary") or {}).get("throughput_per_s", 0)  # noqa: E731
    lines = [
        MARK,
        "",
        f"Run on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.machine()}, {os.cpu_count()} cores, "
        f"{platform.system()} {platform.release()}, release build; {version} on loopback (one node, file storage, "
        f"R1) on the same cores as glwatch and the load generator (`glwatch send`, {bench.CONNECTIONS} keep-alive "
        f"connections, signed ~1 KB audit-log events with unique ids, {args.warmup} s warm-up then "
        f"{args.duration} s measured, then {args.duration} s at half that rate for the p99). The machine was "
        "shared with other builds during the run. Produced by `bench/nats.sh`.",
        "",
        "| receiver | events/s | p50 ms | p99 ms | max ms | glwatch CPU s | nats-server CPU s | p99 at half rate ms "
        "| errors |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        row = bench.fmt_row(r).rstrip(" |").split(" | ")
        h = (r.get("half_rate") or {}).get("summary", {}).get("latency_ms", {}).get("p99", float("nan"))
        if "error" in r:
            lines.append(f"| {r['label']} | failed: {r['error']} | | | | | | | |")
            continue
        # fmt_row: label, rate, p50, p99, max, cpu, rss, errors
        lines.append(f"| {row[0].lstrip('| ')} | {row[1]} | {row[2]} | {row[3]} | {row[4]} | {row[5]} | "
                     f"{nats_cpu[name]:.1f} | {h:.2f} | {row[7]} |")
    base = rate("glwatch-journal")
    if base:
        lines += ["", f"`--nats` alone: {rate('glwatch-nats') / base:.2f}x the journal's rate; `--nats` with the "
                  f"journal: {rate('glwatch-nats-journal') / base:.2f}x."]
    section = "\n".join(lines) + "\n"
    (bench.BENCH / "NATS.md").write_text(section)
    results_md = bench.BENCH / "RESULTS.md"
    text = results_md.read_text() if results_md.exists() else ""
    if MARK in text:
        text = re.sub(re.escape(MARK) + r".*?(?=\n## |\Z)", section.rstrip("\n") + "\n", text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    results_md.write_text(text)
    print(section)


if __name__ == "__main__":
    main()
