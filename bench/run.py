#!/usr/bin/env python3
"""Receiver benchmark: glwatch against the webhook handlers people write today, in one run on one machine.

Each contender serves HTTPS on loopback and does the seed's job (answer the challenge, verify
Hpe-Webhook-Signature over the raw body, append the event to a file), except `bare`, the ceiling, which
answers 204 without reading anything. The load is `glwatch send`: 64 keep-alive connections of signed
~1 KB audit-log events with unique ids, a warm-up, then a fixed duration. Against bare, wrk also runs the same
connections with the same body (unsigned: bare reads nothing), to show how much of bare's figure is the
generator's. Where the machine has two CPUs or more, the server and the load generator are pinned to different
halves with taskset, so the generator does not take the server's cores. Every contender is measured --runs times
(interleaved) and the table gives the median and the range. Writes bench/RESULTS.md.

Usage: bench/run.sh [--duration SECONDS] [--runs N] [--only NAME,NAME] [--no-pin]
"""
import argparse
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
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


def children_cpu():
    """CPU seconds of every child waited for so far: the difference around one run is that run's."""
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


def cpu_halves(pin):
    """The CPUs of the server and of the load generator: two halves of what this process may use, or none."""
    cpus = sorted(os.sched_getaffinity(0))
    if not pin or len(cpus) < 2 or not shutil.which("taskset"):
        return None, None
    half = len(cpus) // 2
    return cpus[:half], cpus[half:]


def pinned(cmd, cpus):
    return ["taskset", "-c", ",".join(map(str, cpus)), *cmd] if cpus else list(cmd)


class Contender:
    def __init__(self, name, label, cmd, env=None, challenge=True, cwd=None, wrk=False, companions=None):
        self.name, self.label, self.cmd, self.env, self.challenge, self.cwd = name, label, cmd, env, challenge, cwd
        self.wrk = wrk
        # Started once the server listens, on the generator's CPUs, stopped with it: (gen_cpus) -> [Popen].
        self.companions = companions


def followers(glwatch, data_dir, n):
    """n `glwatch tail -f --last 0` processes on the receiver's watch socket, printing every new record to /dev/null.
    `--last 0`: they follow live. The receiver's journal outlives a run (the next run's receiver starts over it),
    and followers that began with the whole history would measure its replay instead."""
    def start(cpus):
        socket_path = data_dir / "glwatch-data" / "glwatch.sock"
        deadline = time.time() + 30
        while not socket_path.exists() and time.time() < deadline:
            time.sleep(0.05)
        return [subprocess.Popen(pinned([str(glwatch), "tail", "-f", "--last", "0"], cpus), cwd=data_dir,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
                for _ in range(n)]
    return start


def destination(bare, cert, key, port):
    """The bare server as a route's destination: answers 204 to every delivery."""
    def start(cpus):
        p = subprocess.Popen(pinned([str(bare), f"127.0.0.1:{port}", str(cert), str(key)], cpus),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_port(port, p)
        return [p]
    return start


def contenders(glwatch, bare, cert, key, work, server_cores):
    node = shutil.which("node")
    gunicorn = TOOLS / "venv" / "bin" / "gunicorn"
    env = dict(os.environ, GLWATCH_SECRET=SECRET)
    out = []

    def glwatch_contender(name, label, durability, extra=(), companions=None):
        """A headless glwatch with its journal in a directory of its own, plus `extra` arguments."""
        d = work / name
        d.mkdir()
        return d, Contender(
            name,
            label,
            lambda port: [
                str(glwatch), "--headless", "--listen", f"127.0.0.1:{port}", "--cert", str(cert), "--key", str(key),
                "--journal", str(d / "journal.jsonl"), "--durability", durability,
                *[str(a).replace("{dir}", str(d)) for a in extra],
            ],
            env=dict(env, GLWATCH_LOG="warn"),
            cwd=d,
            companions=companions(d) if companions else None,
        )

    for durability in ("fsync", "os"):
        out.append(glwatch_contender(f"glwatch-{durability}", f"glwatch headless, journal `--durability {durability}`",
                                     durability)[1])
    # The same receiver (--durability os) watched by ten `glwatch tail -f`, and forwarding every event to a route.
    out.append(glwatch_contender(
        "glwatch-os-followers",
        "glwatch headless, `--durability os`, 10 `glwatch tail -f --last 0` followers (on the generator's CPUs)",
        "os", companions=lambda d: followers(glwatch, d, 10))[1])
    route_port = free_port()
    d, route = glwatch_contender(
        "glwatch-os-route",
        "glwatch headless, `--durability os`, one route forwarding every event (to bare on the generator's CPUs)",
        "os", extra=("--routes", "{dir}/routes.toml"), companions=lambda d: destination(bare, cert, key, route_port))
    (d / "routes.toml").write_text(
        f'[[route]]\nname = "bare"\nurl = "https://localhost:{route_port}/"\nca = """\n{cert.read_text()}"""\n'
    )
    out.append(route)
    out.append(
        Contender(
            "flask",
            f"Flask under gunicorn with TLS, {server_cores} workers",
            lambda port: [
                str(gunicorn), "--workers", str(server_cores), "--bind", f"127.0.0.1:{port}", "--certfile",
                str(cert), "--keyfile", str(key), "--log-level", "warning", "--chdir", str(BENCH / "contenders"),
                "flask_app:app",
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
            wrk=True,
        )
    )
    return out


def certificate(glwatch, work):
    """The certificate every contender serves: glwatch generates it (it starts, prints its banner, and is stopped)."""
    p = subprocess.Popen([str(glwatch), "--headless", "--listen", "127.0.0.1:0", "--no-journal"], cwd=work,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=dict(os.environ, GLWATCH_SECRET=SECRET))
    for line in p.stderr:
        if b"listening on" in line:
            break
    p.terminate()
    p.wait()
    certs = work / "certs"
    if not (certs / "glwatch-cert.pem").exists():
        certs = work / "glwatch-data" / "certs"  # where --data-dir's default puts it
    return certs / "glwatch-cert.pem", certs / "glwatch-key.pem"


def send(glwatch, url, cert, cpus, *extra):
    cmd = pinned([str(glwatch), "send", url, "--ca", str(cert), "--secret", SECRET, *extra], cpus)
    before = children_cpu()
    res = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, GLWATCH_LOG="warn"))
    return res, children_cpu() - before


def wrk_load(url, body_file, duration, cpus, work):
    """wrk with the same connections and body as `glwatch send` (one thread: one generator core)."""
    script = work / "post.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'local f = io.open("{body_file}", "rb"); wrk.body = f:read("*a"); f:close()\n'
    )
    threads = max(1, len(cpus or [None]))
    cmd = pinned(["wrk", "-t", str(threads), "-c", str(CONNECTIONS), "-d", f"{duration}s", "--latency", "-s",
                  str(script), url], cpus)
    before = children_cpu()
    res = subprocess.run(cmd, capture_output=True, text=True)
    gen_cpu = children_cpu() - before
    m = re.search(r"Requests/sec:\s+([\d.]+)", res.stdout)
    if not m:
        raise RuntimeError(f"wrk printed no rate: {(res.stdout + res.stderr).strip()[-300:]}")

    def ms(label):
        lm = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", res.stdout, re.M)
        if not lm:
            return float("nan")
        return float(lm.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[lm.group(2)]

    mx = re.search(r"Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)", res.stdout)
    max_ms = float(mx.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[mx.group(2)] if mx else float("nan")
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", res.stdout))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", res.stdout)
    summary = {
        "throughput_per_s": float(m.group(1)),
        "latency_ms": {"p50": ms("50%"), "p99": ms("99%"), "max": max_ms},
        "errors": errors + (int(non2xx.group(1)) if non2xx else 0),
    }
    return summary, gen_cpu


def measure(load, pids_of, duration, companion_pids=()):
    """Runs `load` (which returns its summary and the generator's CPU seconds) and adds the server's CPU use, and
    that of the companions sharing the generator's CPUs."""
    pids = pids_of()
    cpu0, companions0 = cpu_seconds(pids), cpu_seconds(companion_pids)
    summary, gen_cpu = load()
    pids = pids_of()
    out = {"summary": summary, "gen_cpu_s": gen_cpu, "cpu_s": cpu_seconds(pids) - cpu0, "duration": duration,
           "companion_cpu_s": cpu_seconds(companion_pids) - companions0}
    out["rss_mib"] = peak_rss_mib(pids)
    return out


def send_summary(r):
    res, gen_cpu = r
    summary = json.loads(res.stdout) if res.stdout.strip().startswith("{") else {}
    if not summary:
        raise RuntimeError(f"send printed no summary: {res.stderr.strip()[-400:]}")
    return summary, gen_cpu


def run_contender(c, glwatch, cert, duration, warmup, cpus, body_file, work):
    server_cpus, gen_cpus = cpus
    port = free_port()
    cmd = pinned(c.cmd(port), server_cpus)
    env = dict(c.env or os.environ)
    if c.name == "node":
        env["PORT"] = str(port)
    # The contenders before this one left dirty pages (journals written without fsync); written back during this
    # one, they would slow its fsyncs (ext4 commits other files' data with its journal) and be counted against it.
    os.sync()
    log(f"{c.name}: starting {' '.join(cmd[:5])} ...")
    proc = subprocess.Popen(
        cmd, env=env, cwd=c.cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    url = f"https://localhost:{port}/"
    results = {}
    result = {"name": c.name, "label": c.label}
    companions = []
    try:
        wait_port(port, proc)
        if c.companions:
            companions = c.companions(gen_cpus)
        if c.challenge:
            r, _ = send(glwatch, url, cert, gen_cpus, "--challenge-only")
            result["challenge"] = "passed" if r.returncode == 0 else f"failed: {r.stdout.strip()[-200:]}"
        load = ["--no-challenge", "--type", "audit-log", "--concurrency", str(CONNECTIONS), "--json"]
        send(glwatch, url, cert, gen_cpus, *load, "--duration", f"{warmup}s")
        pids = lambda: tree(proc.pid)  # noqa: E731
        result.update(measure(lambda: send_summary(send(glwatch, url, cert, gen_cpus, *load, "--duration",
                                                        f"{duration}s")), pids, duration,
                              [q for c in companions for q in tree(c.pid)]))
        rate = result["summary"].get("throughput_per_s", 0)
        if c.name.startswith("glwatch") and rate > 0:
            half = max(1, int(rate / 2))
            r, _ = send(glwatch, url, cert, gen_cpus, *load, "--duration", f"{duration}s", "--rate", str(half))
            if r.stdout.strip().startswith("{"):
                result["half_rate"] = {"rate": half, "summary": json.loads(r.stdout)}
        if c.wrk and shutil.which("wrk"):
            wrk = {"name": f"{c.name}-wrk", "label": f"{c.label}; load from wrk"}
            try:
                wrk.update(measure(lambda: wrk_load(url, body_file, duration, gen_cpus, work), pids, duration))
            except Exception as e:  # reported, not hidden
                wrk["error"] = str(e)
            results[wrk["name"]] = wrk
    except Exception as e:  # a contender that fails is reported, not hidden
        result["error"] = str(e)
        log(f"{c.name}: {e}")
    finally:
        for companion in companions:
            os.killpg(companion.pid, signal.SIGTERM)
            companion.wait()
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.returncode not in (0, -signal.SIGTERM) and "error" not in result:
            result["exit"] = f"{proc.returncode}: {err.strip()[-300:]}"
    return {c.name: result, **results}


def rate_of(r):
    return (r.get("summary") or {}).get("throughput_per_s", 0)


def med(values):
    values = [v for v in values if v == v]  # no NaN
    return statistics.median(values) if values else float("nan")


def spread(values, fmt):
    values = [v for v in values if v == v]
    if not values:
        return "–"
    m = statistics.median(values)
    if len(values) == 1:
        return fmt(m)
    return f"{fmt(m)} ({fmt(min(values))}–{fmt(max(values))})"


def limited_by(runs, cpus):
    """What held a contender back, from the CPU each side used: a side that kept its cores busy is the limit."""
    server_cpus, gen_cpus = cpus
    verdicts = []
    for r in runs:
        d = r.get("duration") or 1
        server, gen = r.get("cpu_s", 0) / d, r.get("gen_cpu_s", 0) / d
        companions = r.get("companion_cpu_s", 0) / d
        if server_cpus:
            if gen >= 0.9 * len(gen_cpus):
                verdicts.append("generator")
            elif companions and gen + companions >= 0.9 * len(gen_cpus):
                verdicts.append("generator's CPU, shared with the companions")
            elif server >= 0.9 * len(server_cpus):
                verdicts.append("server CPU")
            else:
                verdicts.append("neither (waits)")
        else:
            verdicts.append("shared cores" if server + gen >= 0.9 * (os.cpu_count() or 1) else "neither (waits)")
    return max(set(verdicts), key=verdicts.count) if verdicts else "–"


def fmt_row(name, runs, cpus):
    ok = [r for r in runs if "error" not in r and r.get("summary")]
    label = runs[0]["label"]
    if not ok:
        return f"| {label} | failed: {runs[0].get('error', '?')} | | | | | | | | |"
    lat = lambda k: [(r["summary"].get("latency_ms") or {}).get(k, float("nan")) for r in ok]  # noqa: E731
    errors = sum((r["summary"].get("sent", 0) - r["summary"].get("acknowledged", 0)) + r["summary"].get("failed", 0)
                 + r["summary"].get("errors", 0) for r in ok)
    rates = [rate_of(r) for r in ok]
    server_us = [r["cpu_s"] / (rate_of(r) * r["duration"]) * 1e6 for r in ok if rate_of(r)]
    gen_us = [r["gen_cpu_s"] / (rate_of(r) * r["duration"]) * 1e6 for r in ok if rate_of(r)]
    return (
        f"| {label} | {spread(rates, lambda v: f'{v:,.0f}')} | {med(lat('p50')):.2f} | {med(lat('p99')):.2f} "
        f"| {spread(lat('max'), lambda v: f'{v:.1f}')} | {med(server_us):.1f} | {med(gen_us):.1f} "
        f"| {max(r.get('rss_mib', 0) for r in ok):.0f} | {errors} | {limited_by(ok, cpus)} |"
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default="")
    ap.add_argument("--no-pin", action="store_true", help="let the server and the generator share every CPU")
    ap.add_argument("--glwatch", default=str(ROOT / "target/release/glwatch"))
    ap.add_argument("--bare", default=str(ROOT / "target/release/examples/bare_hyper"))
    ap.add_argument("--out", default=str(BENCH / "RESULTS.md"))
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="glwatch-bench-"))
    cert, key = certificate(args.glwatch, work)
    # wrk's body: the audit-log fixture, compact, about the size of what `glwatch send` posts.
    body_file = work / "body.json"
    body_file.write_text(json.dumps(json.loads((ROOT / "tests/fixtures/audit-log-created.json").read_text()),
                                    separators=(",", ":")))

    cpus = cpu_halves(not args.no_pin)
    server_cores = len(cpus[0]) if cpus[0] else (os.cpu_count() or 2)
    chosen = [c for c in contenders(args.glwatch, args.bare, cert, key, work, server_cores)
              if not args.only or c.name in args.only.split(",")]
    runs = {}
    for n in range(args.runs):
        for c in chosen:
            for name, r in run_contender(c, args.glwatch, cert, args.duration, args.warmup, cpus, body_file,
                                         work).items():
                runs.setdefault(name, []).append(r)
                log(f"run {n + 1}/{args.runs} {name}: {rate_of(r):,.0f} events/s")

    def ratio_runs(a, b):
        pairs = zip(runs.get(a, []), runs.get(b, []))
        return [rate_of(x) / rate_of(y) for x, y in pairs if rate_of(x) and rate_of(y)]

    load_avg = os.getloadavg()
    placement = (f"server pinned to CPU {','.join(map(str, cpus[0]))}, load generator to CPU "
                 f"{','.join(map(str, cpus[1]))} (taskset)" if cpus[0] else "server and load generator sharing every CPU")
    lines = [
        "# Receiver benchmark results",
        "",
        f"Run on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.machine()}, {os.cpu_count()} cores, "
        f"{platform.system()} {platform.release()}; {placement}; load generator `glwatch send` (and wrk against "
        f"bare), {CONNECTIONS} keep-alive connections, signed ~1 KB audit-log events with unique ids, "
        f"{args.warmup} s warm-up then {args.duration} s measured, {args.runs} runs of every contender interleaved; "
        f"figures are the median (range) of the runs. Load average at the end: "
        f"{load_avg[0]:.1f} {load_avg[1]:.1f} {load_avg[2]:.1f}. Produced by `bench/run.sh`.",
        "",
        "| contender | events/s | p50 ms | p99 ms | max ms | server CPU µs/event | generator CPU µs/request "
        "| peak RSS MiB | errors | limited by |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [fmt_row(name, rs, cpus) for name, rs in runs.items()]
    lines += ["", "Challenge answered correctly: " + ", ".join(
        f"{name} {rs[0].get('challenge', 'n/a')}" for name, rs in runs.items() if not name.endswith("-wrk")), ""]
    checks = [
        ("glwatch (fsync) / Flask", ratio_runs("glwatch-fsync", "flask"), 50.0),
        ("glwatch (fsync) / Node", ratio_runs("glwatch-fsync", "node"), 3.0),
        ("glwatch (fsync) / bare", ratio_runs("glwatch-fsync", "bare"), 0.60),
        ("glwatch (os) / bare", ratio_runs("glwatch-os", "bare"), 0.75),
        ("glwatch (os) with 10 followers / bare", ratio_runs("glwatch-os-followers", "bare"), 0.75),
        ("glwatch (os) with a route / bare", ratio_runs("glwatch-os-route", "bare"), 0.75),
        ("glwatch (os) with 10 followers / glwatch (os) alone", ratio_runs("glwatch-os-followers", "glwatch-os"), None),
        ("glwatch (os) with a route / glwatch (os) alone", ratio_runs("glwatch-os-route", "glwatch-os"), None),
        ("`glwatch send` / wrk, against bare", ratio_runs("bare", "bare-wrk"), 0.80),
    ]
    lines += ["| ratio (median of the runs' ratios) | measured | target | met |", "|---|---|---|---|"]
    for name, values, target in checks:
        if values and target is None:
            lines.append(f"| {name} | {spread(values, lambda v: f'{v:.2f}')} | – | – |")
        elif values:
            lines.append(f"| {name} | {spread(values, lambda v: f'{v:.2f}')} | ≥ {target:g} | "
                         f"{'yes' if med(values) >= target else 'no'} |")
    for n in ("glwatch-fsync", "glwatch-os"):
        halves = [r["half_rate"] for r in runs.get(n, []) if r.get("half_rate")]
        if halves:
            p99 = [h["summary"].get("latency_ms", {}).get("p99", float("nan")) for h in halves]
            rate = med([h["rate"] for h in halves])
            lines.append(f"| {n} p99 at half its peak rate (≈{rate:,.0f} events/s) | "
                         f"{spread(p99, lambda v: f'{v:.2f}')} ms | < 5 ms | {'yes' if med(p99) < 5 else 'no'} |")
        maxes = [(r["summary"].get("latency_ms") or {}).get("max", float("nan")) for r in runs.get(n, [])
                 if r.get("summary")]
        if maxes:
            lines.append(f"| {n} max latency at full rate | {spread(maxes, lambda v: f'{v:.1f}')} ms | < 50 ms | "
                         f"{'yes' if med(maxes) < 50 else 'no'} |")
    lines.append("")
    Path(args.out).write_text("\n".join(lines) + "\n" + kept_sections(Path(args.out)))
    print("\n".join(lines))
    shutil.rmtree(work, ignore_errors=True)


def kept_sections(out):
    """The sections after the table, from the RESULTS.md this rewrites: the profiles and rounds of changes, the
    other scripts' figures and bench/nats.py's section, written there by hand or by those scripts. "Reading this
    run" is left out: it read the run being replaced. bench/NATS.md stands in for a NATS section not there."""
    old = out.read_text() if out.exists() else ""
    sections = [s for s in re.split(r"(?m)^(?=## )", old) if s.startswith("## ")]
    kept = [s for s in sections if not s.startswith("## Reading this run")]
    nats = BENCH / "NATS.md"
    if nats.exists() and not any(s.startswith("## NATS JetStream publishing") for s in kept):
        kept.append(nats.read_text())
    return "\n".join(s.rstrip("\n") + "\n" for s in kept)


if __name__ == "__main__":
    main()
