#!/usr/bin/env python3
"""Helpers for bench/load.sh (standard library only).

  load.py targets --port PORT --out FILE   (token in SHIPLOG_BENCH_TOKEN)
      Lists published releases through GET /api/v1/releases (a few pages) and
      the changes in them, keeps those whose public page answers 200 (up to
      50 releases and 300 changes) and writes `release <slug>` / `change <id>`
      lines to FILE for load.lua.

  load.py memory --pid PID
      Prints `rss_kb=… hwm_kb=… anon_kb=… file_kb=… threads=… fds=…` of the
      process, from /proc/PID/status and /proc/PID/fd.

  load.py reset-peak --pid PID
      Resets the process's VmHWM to its VmRSS now (writes 5 to
      /proc/PID/clear_refs), so the next VmHWM is the peak of what follows.

  load.py watch --pid PID --port PORT --out FILE [--interval S]
      Until SIGTERM (or the process ends), samples the process's RSS, open
      files and threads, and how many connections wait in the accept queue
      of 127.0.0.1:PORT (established by the kernel, not yet accepted by the
      server); then writes their maxima to FILE as key=value lines.

  load.py served --port METRICS_PORT --out FILE [--since FILE]
      Reads the server's /metrics (SHIPLOG_METRICS_LISTEN) and writes the
      answers it counted by status (`200 1234` lines) to FILE; with --since,
      prints what was answered after that earlier snapshot: `answered=N
      statuses=200x…` and, for each answer 5xx, its route.

  load.py accept-queue --port PORT
      Prints how many connections wait in the accept queue of 127.0.0.1:PORT.

  load.py listen-drops
      Prints the machine's TCP counters `overflows=… drops=…` (ListenOverflows
      and ListenDrops from /proc/net/netstat: connections the kernel dropped
      because an accept queue was full).
"""

import argparse
import http.client
import json
import os
import signal
import sys
import time

HOST = "127.0.0.1"


def get(port, path, token=None, timeout=10):
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        conn.request("GET", path, headers=headers)
        res = conn.getresponse()
        return res.status, res.read()
    finally:
        conn.close()


def cmd_targets(a):
    token = os.environ.get("SHIPLOG_BENCH_TOKEN", "")
    slugs, ids = [], []
    page = 1
    while page and page <= 8 and len(slugs) < 80:
        status, raw = get(a.port, f"/api/v1/releases?page={page}", token)
        if status != 200:
            print(f"GET /api/v1/releases?page={page} answered {status}: {raw[:300]!r}", file=sys.stderr)
            return 1
        doc = json.loads(raw)
        for r in doc.get("releases", []):
            slugs.append(r["slug"])
            ids.extend(e["id"] for e in r.get("entries", []))
        page = doc.get("next_page")
    releases = [s for s in slugs if get(a.port, f"/releases/{s}")[0] == 200][:50]
    changes = []
    for i in ids:
        if len(changes) >= 300:
            break
        if get(a.port, f"/changes/{i}")[0] == 200:
            changes.append(i)
    if not releases or not changes:
        print(f"found {len(releases)} public releases and {len(changes)} public changes; need some of each",
              file=sys.stderr)
        return 1
    with open(a.out, "w") as f:
        for s in releases:
            f.write(f"release {s}\n")
        for i in changes:
            f.write(f"change {i}\n")
    print(f"{len(releases)} release pages and {len(changes)} change pages")
    return 0


def memory(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "Threads"):
                out[key] = int(value.split()[0])
    try:
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        fds = -1
    return {
        "rss_kb": out.get("VmRSS", 0), "hwm_kb": out.get("VmHWM", 0), "anon_kb": out.get("RssAnon", 0),
        "file_kb": out.get("RssFile", 0), "threads": out.get("Threads", 0), "fds": fds,
    }


def cmd_memory(a):
    print(" ".join(f"{k}={v}" for k, v in memory(a.pid).items()))
    return 0


def cmd_reset_peak(a):
    try:
        with open(f"/proc/{a.pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError as e:
        print(f"cannot reset the peak ({e}); VmHWM is then the peak since start", file=sys.stderr)
        return 1
    return 0


def accept_queue(port):
    """Connections waiting to be accepted on the listening socket at PORT
    (for a socket in state LISTEN, /proc/net/tcp's rx_queue is its accept
    queue), or -1 when there is no such socket."""
    local = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            cols = line.split()
            if cols[1] == local and cols[3] == "0A":
                return int(cols[4].split(":")[1], 16)
    return -1


def cmd_watch(a):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    peak = {"rss_kb": 0, "anon_kb": 0, "fds": 0, "threads": 0, "accept_queue": 0}
    while not stop:
        try:
            m = memory(a.pid)
            m["accept_queue"] = accept_queue(a.port)
        except OSError:
            break
        for k in peak:
            peak[k] = max(peak[k], m[k])
        time.sleep(a.interval)
    with open(a.out, "w") as f:
        for k, v in peak.items():
            f.write(f"max_{k}={v}\n")
    return 0


def served(port):
    status, raw = get(port, "/metrics")
    if status != 200:
        raise RuntimeError(f"GET /metrics answered {status}")
    counts = {}
    for line in raw.decode().splitlines():
        if not line.startswith("shiplog_http_requests_total{"):
            continue
        labels, value = line.rsplit(" ", 1)
        route = labels.split('route="', 1)[1].split('"', 1)[0]
        code = labels.split('status="', 1)[1].split('"', 1)[0]
        counts[(route, code)] = counts.get((route, code), 0) + int(float(value))
    return counts


def cmd_served(a):
    try:
        now = served(a.port)
    except (OSError, RuntimeError, http.client.HTTPException) as e:
        print(f"answered=? statuses=? (/metrics: {e})")
        return 1
    with open(a.out, "w") as f:
        for (route, code), n in sorted(now.items()):
            f.write(f"{code} {n} {route}\n")
    if not a.since:
        return 0
    before = {}
    with open(a.since) as f:
        for line in f:
            code, n, route = line.rstrip("\n").split(" ", 2)
            before[(route, code)] = int(n)
    by_status, failing = {}, []
    for key, n in now.items():
        d = n - before.get(key, 0)
        if d <= 0:
            continue
        by_status[key[1]] = by_status.get(key[1], 0) + d
        if key[1] >= "500":
            failing.append(f"{key[0]} {key[1]}x{d}")
    statuses = ",".join(f"{c}x{n}" for c, n in sorted(by_status.items())) or "none"
    print(f"answered={sum(by_status.values())} statuses={statuses} failing={';'.join(failing) or 'none'}")
    return 0


def cmd_accept_queue(a):
    print(accept_queue(a.port))
    return 0


def cmd_listen_drops(_a):
    with open("/proc/net/netstat") as f:
        lines = f.read().splitlines()
    for names, values in zip(lines[::2], lines[1::2]):
        if names.startswith("TcpExt:"):
            row = dict(zip(names.split()[1:], values.split()[1:]))
            print(f"overflows={row.get('ListenOverflows', 0)} drops={row.get('ListenDrops', 0)}")
            return 0
    print("overflows=0 drops=0")
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("targets")
    t.add_argument("--port", type=int, required=True)
    t.add_argument("--out", required=True)
    t.set_defaults(fn=cmd_targets)
    for name, fn in (("memory", cmd_memory), ("reset-peak", cmd_reset_peak)):
        m = sub.add_parser(name)
        m.add_argument("--pid", type=int, required=True)
        m.set_defaults(fn=fn)
    w = sub.add_parser("watch")
    w.add_argument("--pid", type=int, required=True)
    w.add_argument("--port", type=int, required=True)
    w.add_argument("--out", required=True)
    w.add_argument("--interval", type=float, default=0.2)
    w.set_defaults(fn=cmd_watch)
    s = sub.add_parser("served")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--since")
    s.set_defaults(fn=cmd_served)
    q = sub.add_parser("accept-queue")
    q.add_argument("--port", type=int, required=True)
    q.set_defaults(fn=cmd_accept_queue)
    d = sub.add_parser("listen-drops")
    d.set_defaults(fn=cmd_listen_drops)
    a = p.parse_args()
    sys.exit(a.fn(a))


if __name__ == "__main__":
    main()
