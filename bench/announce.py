#!/usr/bin/env python3
"""Announcing a release to many subscribers, beside postfix's smtp-source.

Prints figures, never pass/fail:
  - messages per second Shiplog sends one announcement to N confirmed
    subscribers (rate limit off) into postfix's `smtp-sink`
  - messages per second `smtp-source` sends N messages of about the same size
    to the same sink, in the same run, and the ratio (goal: at least 0.5x)
  - the Shiplog server's peak memory (VmHWM) over the run (goal: under 100 MB)
  - how long adding the N subscribers through the API took

Usage: bench/announce.py [--bin target/release/shiplog] [--subscribers 100000]
                      [--connections 8] [--port 3720] [--sink-port 2626]
Needs: smtp-sink and smtp-source (Debian package postfix).
It builds nothing: it runs the release binary that is already there.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("--bin", default=os.environ.get("SHIPLOG_BIN", "target/release/shiplog"))
ap.add_argument("--subscribers", type=int, default=int(os.environ.get("SHIPLOG_BENCH_SUBSCRIBERS", 100_000)))
ap.add_argument("--connections", type=int, default=8)
ap.add_argument("--port", type=int, default=3720)
ap.add_argument("--sink-port", type=int, default=2626)
args = ap.parse_args()

for tool in ("smtp-sink", "smtp-source"):
    if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
        sys.exit(f"bench: {tool} is required: apt-get install postfix")
if not os.access(args.bin, os.X_OK):
    sys.exit(f"bench: no Shiplog binary at {args.bin}; build it with: cargo leptos build --release")

work = tempfile.mkdtemp(prefix="shiplog-email-bench-")
base = f"http://127.0.0.1:{args.port}"
env = dict(os.environ,
           DATABASE_URL=f"sqlite://{work}/bench.db",
           SHIPLOG_LISTEN=f"127.0.0.1:{args.port}",
           SHIPLOG_PUBLIC_URL="https://notes.example.com",
           SMTP_URL=f"smtp://127.0.0.1:{args.sink_port}",
           SHIPLOG_MAIL_FROM="Release notes <notes@example.com>",
           SHIPLOG_MAIL_RATE="off",
           SHIPLOG_MAIL_CONNECTIONS=str(args.connections),
           RUST_LOG="warn")
procs = []


def sbin(tool):
    return shutil.which(tool) or f"/usr/sbin/{tool}"


def call(method, path, token, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=600) as res:
            return res.status, json.loads(res.read() or b"null")
    except urllib.error.HTTPError as e:
        sys.exit(f"bench: {method} {path} answered {e.code}: {e.read()[:300]!r}")


def token(role):
    out = subprocess.run([args.bin, "token", "create", "--name", f"bench-{role}", "--role", role],
                         env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def peak_memory_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


try:
    print(f"Shiplog email — {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}")
    print(f"  machine: {os.cpu_count()} CPUs; load: {open('/proc/loadavg').read().split()[:3]}")
    sink = subprocess.Popen([sbin("smtp-sink"), "-u", "nobody", f"127.0.0.1:{args.sink_port}", "1000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(sink)
    subprocess.run([args.bin, "migrate"], env=env, check=True, capture_output=True)
    pm, engineer = token("pm"), token("engineer")
    server = subprocess.Popen([args.bin], env=env, stdout=subprocess.DEVNULL)
    procs.append(server)
    for _ in range(200):
        try:
            urllib.request.urlopen(base + "/readyz", timeout=1)
            break
        except Exception:
            time.sleep(0.05)

    print(f"  server memory when ready: {peak_memory_mb(server.pid):.0f} MB")
    start = time.time()
    chunk = 5000
    for first in range(0, args.subscribers, chunk):
        people = [{"email": f"reader{i}@example.com", "releases": True, "digest": "off", "confirmed": True}
                  for i in range(first, min(first + chunk, args.subscribers))]
        call("POST", "/api/v1/subscribers", pm, people)
    added = time.time() - start
    print(f"  {args.subscribers:,} confirmed subscribers added through the API in {added:.1f} s "
          f"({args.subscribers / added:,.0f} a second); server peak memory so far {peak_memory_mb(server.pid):.0f} MB")

    deploy = call("POST", "/api/v1/deploys", engineer, {
        "environment": "production", "version": "bench-1", "status": "succeeded",
        "entries": [{"title": f"Change number {i}", "kind": kind, "body": "A **short** note about it, "
                     "with a [link](https://example.com/docs) and a second sentence for length."}
                    for i, kind in enumerate(["feature", "fix", "improvement", "security", "fix", "feature"])]})[1]
    call("POST", "/api/v1/releases", pm, {"title": "Benchmark release", "slug": "bench",
                                          "narrative": "What is new this month, in a few words. " * 5})
    linked = call("POST", "/api/v1/releases/bench/entries", pm,
                  {"entry_ids": [e["id"] for e in deploy["entries"]]})[1]
    call("POST", "/api/v1/releases/bench/publish", pm, {"revision": linked["revision"]})
    campaign = call("POST", "/api/v1/campaigns", pm, {"release": "bench"})[1]
    cid = campaign["id"]

    start = time.time()
    call("POST", f"/api/v1/campaigns/{cid}/send", pm)
    while True:
        c = call("GET", f"/api/v1/campaigns/{cid}", pm)[1]
        if c["status"] == "sent":
            break
        if time.time() - start > 1800:
            sys.exit(f"bench: the campaign did not finish in 30 minutes: {c}")
        time.sleep(0.25)
    took = time.time() - start
    sent = c["counts"]["sent"]
    memory = peak_memory_mb(server.pid)
    shiplog_rate = sent / took

    # The same number of messages of about the same size, from postfix's own client.
    size = 6000
    start = time.time()
    subprocess.run([sbin("smtp-source"), "-s", "20", "-l", str(size), "-m", str(args.subscribers),
                    "-f", "notes@example.com", "-t", "reader@example.com", f"127.0.0.1:{args.sink_port}"],
                   check=True, capture_output=True)
    source_took = time.time() - start
    source_rate = args.subscribers / source_took

    print()
    print(f"  {'sender':<44} {'messages':>10} {'seconds':>9} {'per second':>11}")
    print(f"  {'Shiplog (one announcement, ' + str(args.connections) + ' connections)':<44} {sent:>10,} {took:>9.1f} {shiplog_rate:>11,.0f}")
    print(f"  {'smtp-source -s 20 -l ' + str(size):<44} {args.subscribers:>10,} {source_took:>9.1f} {source_rate:>11,.0f}")
    print(f"  ratio: {shiplog_rate / source_rate:.2f}x  (goal: at least 0.5x)")
    print(f"  counts: {c['counts']}")
    print(f"  Shiplog peak memory (VmHWM): {memory:.0f} MB  (goal: under 100 MB)")
finally:
    for p in procs:
        p.kill()
        p.wait()
    shutil.rmtree(work, ignore_errors=True)
