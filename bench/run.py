#!/usr/bin/env python3
"""Receiver benchmark: glwatch against the webhook handlers people write today, in one run on one machine.

Each contender serves HTTPS on loopback and does the seed's job (answer the challenge, verify
Hpe-Webhook-Signature over the raw body, append the event to a file), except `bare`, the ceiling, which
answers 204 without reading anything. The load is `glwatch send`: 64 keep-alive connections of signed
~1 KB audit-log events with unique ids, a warm-up, then a fixed duration. Writes bench/RESULTS.md.

Usage: bench/run.sh [--duration SECONDS] [--only NAME,NAME]
"""
import argparse
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
TOOLS = BENCH / ".tools"
SECRET = "bench-secret-0123456789"
CONNECTIONS = 64


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port} after {timeout}s")


def tree(pid):
    """pid and all its descendants (gunicorn workers, for instance)."""
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                children.setdefault(int(fields[1]), []).append(int(entry.name))
            except (OSError, IndexError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(pids):
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
        except (OSError, IndexError):
            pass
    return total / tick


def peak_rss_mib(pids):
    total = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


class Contender:
    def __init__(self, name, label, cmd, env=None, challenge=True, cwd=None):
        self.name, self.label, self.cmd, self.env, self.challenge, self.cwd = name, label, cmd, env, challenge, cwd


def contenders(glwatch, bare, cert, key, work):
    node = shutil.which("node")
    gunicorn = TOOLS / "venv" / "bin" / "gunicorn"
    cores = os.cpu_count() or 2
    env = dict(os.environ, GLWATCH_SECRET=SECRET)
    out = []
    for durability in ("fsync", "os"):
        d = work / f"glwatch-{durability}"
        d.mkdir()
        out.append(
            Contender(
                f"glwatch-{durability}",
                f"glwatch headless, journal `--durability {durability}`",
                lambda port, d=d, durability=durability: [
                    str(glwatch), "--headless", "--listen", f"127.0.0.1:{port}", "--cert", str(cert),
                    "--key", str(key), "--journal", str(d / "journal.jsonl"), "--durability", durability,
                ],
                env=dict(env, GLWATCH_LOG="warn"),
                cwd=d,
            )
        )
    out.append(
        Contender(
            "flask",
            f"Flask under gunicorn with TLS, {cores} workers",
            lambda port: [
                str(gunicorn), "--workers", str(cores), "--bind", f"127.0.0.1:{port}", "--certfile", str(cert),
                "--keyfile", str(key), "--log-level", "warning", "--chdir", str(BENCH / "contenders"), "flask_app:app",
            ],
            env=dict(env, BENCH_OUT=str(work / "flask-events.jsonl")),
        )
    )
    out.append(
        Contender(
            "node",
            f"Node.js {subprocess.run([node, '--version'], capture_output=True, text=True).stdout.strip() if node else '(missing)'} `https`",
            lambda port: [node, str(BENCH / "contenders" / "node_app.js")],
            env=dict(env, CERT=str(cert), KEY=str(key), BENCH_OUT=str(work / "node-events.jsonl")),
        )
    )
    out.append(
        Contender(
            "bare",
            "bare hyper + rustls, 204 without reading the body",
            lambda port: [str(bare), f"127.0.0.1:{port}", str(cert), str(key)],
            challenge=False,
        )
    )
    return out


def send(glwatch, url, cert, *extra):
    cmd = [str(glwatch), "send", url, "--ca", str(cert), "--secret", SECRET, *extra]
    res = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, GLWATCH_LOG="warn"))
    return res


def run_contender(c, glwatch, cert, duration, warmup):
    port = free_port()
    cmd = c.cmd(port)
    env = dict(c.env or os.environ)
    if c.name == "node":
        env["PORT"] = str(port)
    log(f"{c.name}: starting {' '.join(cmd[:3])} ...")
    proc = subprocess.Popen(
        cmd, env=env, cwd=c.cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    url = f"https://localhost:{port}/"
    result = {"name": c.name, "label": c.label}
    try:
        wait_port(port, proc)
        if c.challenge:
            r = send(glwatch, url, cert, "--challenge-only")
            result["challenge"] = "passed" if r.returncode == 0 else f"failed: {r.stdout.strip()[-200:]}"
        load = ["--no-challenge", "--type", "audit-log", "--concurrency", str(CONNECTIONS), "--json"]
        send(glwatch, url, cert, *load, "--duration", f"{warmup}s")
        pids = tree(proc.pid)
        cpu0 = cpu_seconds(pids)
        r = send(glwatch, url, cert, *load, "--duration", f"{duration}s")
        pids = tree(proc.pid)
        result["cpu_s"] = cpu_seconds(pids) - cpu0
        result["rss_mib"] = peak_rss_mib(pids)
        summary = json.loads(r.stdout) if r.stdout.strip().startswith("{") else {}
        if not summary:
            raise RuntimeError(f"send printed no summary: {r.stderr.strip()[-400:]}")
        result["summary"] = summary
        rate = summary.get("throughput_per_s", 0)
        if c.name.startswith("glwatch") and rate > 0:
            half = max(1, int(rate / 2))
            r = send(glwatch, url, cert, *load, "--duration", f"{duration}s", "--rate", str(half))
            if r.stdout.strip().startswith("{"):
                result["half_rate"] = {"rate": half, "summary": json.loads(r.stdout)}
    except Exception as e:  # a contender that fails is reported, not hidden
        result["error"] = str(e)
        log(f"{c.name}: {e}")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.returncode not in (0, -signal.SIGTERM) and "error" not in result:
            result["exit"] = f"{proc.returncode}: {err.strip()[-300:]}"
    return result


def fmt_row(r):
    s = r.get("summary") or {}
    lat = s.get("latency_ms") or {}
    errors = (s.get("sent", 0) - s.get("acknowledged", 0)) + s.get("failed", 0)
    if "error" in r:
        return f"| {r['label']} | failed: {r['error']} | | | | | | |"
    return (
        f"| {r['label']} | {s.get('throughput_per_s', 0):,.0f} | {lat.get('p50', 0):.2f} | {lat.get('p99', 0):.2f} "
        f"| {lat.get('max', 0):.1f} | {r.get('cpu_s', 0):.1f} | {r.get('rss_mib', 0):.0f} | {errors} |"
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--only", default="")
    ap.add_argument("--glwatch", default=str(ROOT / "target/release/glwatch"))
    ap.add_argument("--bare", default=str(ROOT / "target/release/examples/bare_hyper"))
    ap.add_argument("--out", default=str(BENCH / "RESULTS.md"))
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="glwatch-bench-"))
    certs = work / "certs"
    # glwatch generates the certificate every contender uses (it starts, prints its banner, and is stopped).
    p = subprocess.Popen([args.glwatch, "--headless", "--listen", "127.0.0.1:0", "--no-journal"], cwd=work,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=dict(os.environ, GLWATCH_SECRET=SECRET))
    for line in p.stderr:
        if b"listening on" in line:
            break
    p.terminate()
    p.wait()
    cert, key = certs / "glwatch-cert.pem", certs / "glwatch-key.pem"

    chosen = [c for c in contenders(args.glwatch, args.bare, cert, key, work)
              if not args.only or c.name in args.only.split(",")]
    results = {}
    for c in chosen:
        results[c.name] = run_contender(c, args.glwatch, cert, args.duration, args.warmup)
        s = results[c.name].get("summary", {})
        log(f"{c.name}: {s.get('throughput_per_s', 0):,.0f} events/s")

    rate = lambda n: (results.get(n, {}).get("summary") or {}).get("throughput_per_s", 0)  # noqa: E731
    ratio = lambda a, b: rate(a) / rate(b) if rate(b) else float("nan")  # noqa: E731
    lines = [
        "# Receiver benchmark results",
        "",
        f"Run on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.machine()}, {os.cpu_count()} cores, "
        f"{platform.system()} {platform.release()}; load generator `glwatch send` on the same cores, "
        f"{CONNECTIONS} keep-alive connections, signed ~1 KB audit-log events with unique ids, "
        f"{args.warmup} s warm-up then {args.duration} s measured. Produced by `bench/run.sh`.",
        "",
        "| contender | events/s | p50 ms | p99 ms | max ms | server CPU s | peak RSS MiB | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [fmt_row(r) for r in results.values()]
    lines += ["", "Challenge answered correctly: " + ", ".join(
        f"{r['name']} {r.get('challenge', 'n/a')}" for r in results.values()), ""]
    checks = [
        ("glwatch (fsync) / Flask", ratio("glwatch-fsync", "flask"), 50.0),
        ("glwatch (fsync) / Node", ratio("glwatch-fsync", "node"), 3.0),
        ("glwatch (fsync) / bare", ratio("glwatch-fsync", "bare"), 0.60),
        ("glwatch (os) / bare", ratio("glwatch-os", "bare"), 0.75),
    ]
    lines += ["| ratio | measured | target | met |", "|---|---|---|---|"]
    for name, value, target in checks:
        lines.append(f"| {name} | {value:.2f} | {target:g} | {'yes' if value >= target else 'no'} |")
    for n in ("glwatch-fsync", "glwatch-os"):
        h = results.get(n, {}).get("half_rate")
        if h:
            p99 = h["summary"].get("latency_ms", {}).get("p99", float("nan"))
            lines.append(f"| {n} p99 at half its peak rate ({h['rate']:,} events/s) | {p99:.2f} ms | < 5 ms | "
                         f"{'yes' if p99 < 5 else 'no'} |")
    lines.append("")
    Path(args.out).write_text("\n".join(lines) + "\n" + notes_section())
    print("\n".join(lines))
    shutil.rmtree(work, ignore_errors=True)


def notes_section():
    # NATS.md is the section bench/nats.py writes: kept when this rewrites RESULTS.md.
    parts = [BENCH / "NOTES.md", BENCH / "NATS.md"]
    return "\n".join(p.read_text() for p in parts if p.exists())


if __name__ == "__main__":
    main()
