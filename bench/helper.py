#!/usr/bin/env python3
"""Small helpers for bench/run.sh (standard library only).

  helper.py coldstart --bin BIN --port PORT --site-root DIR --samples N --out FILE
      Spawns `BIN serve` on a brand-new SQLite file in a fresh temp dir, polls
      GET /readyz in a tight loop and records the time from spawn to the first
      200, then stops the server. Repeats N times; prints each sample and
      min/median/max, writes `key=value` lines to FILE.

  helper.py wait-ready --port PORT --pid PID [--timeout S]
      Waits until GET /readyz answers 200 (exit 0), the process PID exits
      (exit 1) or the timeout passes (exit 1).

  helper.py check-deploys --port PORT --entries N   (token in SHIPLOG_BENCH_TOKEN)
      Reads the newest deploy of environment `bench` back through the API and
      prints its version and entry count (exit 1 when the count is not N).

  helper.py hostile-markdown --port PORT --rounds N   (token in SHIPLOG_BENCH_TOKEN)
      Times POST /api/v1/deploys with hostile Markdown bodies (a 49,990-deep
      blockquote, 10,000 nested <div>s, a padded wide table, repeated link
      references) and GET /healthz while four clients send them at once,
      beside /healthz on an idle server. Prints medians and the ratio.

  helper.py port-free --port PORT
      Exit 0 when nothing accepts connections on 127.0.0.1:PORT.

  helper.py db-url --url URL --db NAME
      Prints URL with its database (path) replaced by NAME.

  helper.py crawl --port PORT --depth D START...
      From each START path, follows the page's rel="next" link up to D times
      and prints every page's path (one per line, each START first): the
      later pages a reader reaches by clicking "Older".
"""

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

HOST = "127.0.0.1"


def readyz_status(port, timeout=1.0):
    """The status of GET /readyz, or None when nothing answers yet."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", "/readyz")
        res = conn.getresponse()
        res.read()
        return res.status
    except (ConnectionError, OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def port_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(0.5)
    try:
        s.connect((HOST, port))
        return False
    except OSError:
        return True
    finally:
        s.close()


def stop(proc, grace=5.0):
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def server_env(db_url, port, site_root, workdir):
    env = dict(os.environ)
    env.update(
        DATABASE_URL=db_url,
        SHIPLOG_LISTEN=f"{HOST}:{port}",
        SHIPLOG_PUBLIC_URL=f"http://{HOST}:{port}",
        LEPTOS_SITE_ROOT=site_root,
        LEPTOS_OUTPUT_NAME="shiplog",
        SHIPLOG_MAIL_DIR=os.path.join(workdir, "mail"),
        RUST_LOG="warn",
    )
    return env


def one_coldstart(binary, port, site_root, timeout):
    workdir = tempfile.mkdtemp(prefix="shiplog-bench-cold-")
    log_path = os.path.join(workdir, "server.log")
    try:
        db = os.path.join(workdir, "bench.db")
        env = server_env(f"sqlite://{db}", port, site_root, workdir)
        with open(log_path, "wb") as log:
            t0 = time.perf_counter_ns()
            proc = subprocess.Popen(
                [binary, "serve"], cwd=workdir, env=env,
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            )
            try:
                deadline = t0 + int(timeout * 1e9)
                while True:
                    status = readyz_status(port)
                    now = time.perf_counter_ns()
                    if status == 200:
                        return (now - t0) / 1e6
                    if proc.poll() is not None:
                        raise RuntimeError(
                            f"the server exited with code {proc.returncode} before /readyz answered 200"
                        )
                    if now > deadline:
                        raise RuntimeError(f"/readyz did not answer 200 within {timeout:.0f} s")
                    # Refused connections come back at once; a short sleep keeps
                    # this loop from taking a whole core away from the server.
                    time.sleep(0.0005)
            finally:
                stop(proc)
    except RuntimeError as e:
        try:
            with open(log_path, "r", errors="replace") as f:
                tail = f.read()[-2000:]
        except OSError:
            tail = ""
        raise RuntimeError(f"{e}\n--- server output ---\n{tail}") from None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def cmd_coldstart(a):
    samples = []
    for i in range(a.samples):
        if not port_free(a.port):
            print(f"  port {a.port} is in use; set SHIPLOG_BENCH_PORT to a free port", file=sys.stderr)
            return 1
        try:
            ms = one_coldstart(a.bin, a.port, a.site_root, a.timeout)
        except RuntimeError as e:
            print(f"  sample {i + 1}: FAILED: {e}", file=sys.stderr)
            return 1
        samples.append(ms)
        print(f"  sample {i + 1:2d}: {ms:7.1f} ms", flush=True)
    lo, med, hi = min(samples), statistics.median(samples), max(samples)
    print(f"  cold start (n={len(samples)}): min {lo:.1f} ms, median {med:.1f} ms, max {hi:.1f} ms  (goal: under 300 ms)")
    with open(a.out, "w") as f:
        f.write(f"n={len(samples)}\nmin={lo:.1f}\nmedian={med:.1f}\nmax={hi:.1f}\n")
    return 0


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by the shell) still answers kill(0).
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def cmd_wait_ready(a):
    deadline = time.monotonic() + a.timeout
    while time.monotonic() < deadline:
        if readyz_status(a.port) == 200:
            return 0
        if a.pid and not pid_alive(a.pid):
            print("  the server exited before /readyz answered 200", file=sys.stderr)
            return 1
        time.sleep(0.02)
    print(f"  /readyz did not answer 200 within {a.timeout:.0f} s", file=sys.stderr)
    return 1


def cmd_check_deploys(a):
    token = os.environ.get("SHIPLOG_BENCH_TOKEN", "")
    conn = http.client.HTTPConnection(HOST, a.port, timeout=10)
    try:
        conn.request("GET", "/api/v1/deploys?environment=bench&limit=1",
                     headers={"Authorization": f"Bearer {token}"})
        res = conn.getresponse()
        raw = res.read()
    except (OSError, http.client.HTTPException) as e:
        print(f"  read-back failed: {e}", file=sys.stderr)
        return 1
    finally:
        conn.close()
    if res.status != 200:
        print(f"  read-back answered {res.status}: {raw[:300]!r}", file=sys.stderr)
        return 1
    deploys = json.loads(raw).get("deploys", [])
    if not deploys:
        print("  read-back: no deploy was stored", file=sys.stderr)
        return 1
    d = deploys[0]
    print(f"newest deploy {d.get('version')} (id {d.get('id')}) has {d.get('entry_count')} entries")
    return 0 if d.get("entry_count") == a.entries else 1


HOSTILE = {
    "49,990-deep blockquote": ">" * 49_990,
    "10,000 nested divs": "<div>" * 10_000,
    "padded wide table": "|a" * 5_000 + "|\n" + "|-" * 5_000 + "|\n" + "x\n" * 10_000,
    "repeated link reference": "[r]: https://example.com/" + "a" * 1_900 + "\n\n" + "[r] " * 10_000,
}


def timed_request(port, method, path, body=None, token=""):
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    headers = {"Authorization": f"Bearer {token}"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    start = time.perf_counter()
    try:
        conn.request(method, path, body=body, headers=headers)
        res = conn.getresponse()
        res.read()
        return res.status, (time.perf_counter() - start) * 1000
    finally:
        conn.close()


def cmd_hostile_markdown(a):
    import threading
    token = os.environ.get("SHIPLOG_BENCH_TOKEN", "")

    def deploy_body(md, n):
        return json.dumps({"environment": "bench-hostile", "version": f"h{n}-{time.time_ns()}",
                           "entries": [{"title": "hostile", "kind": "fix", "body": md}]})

    print(f"  {'input':<26} {'status':>6} {'median ms':>10}")
    for name, md in HOSTILE.items():
        times, statuses = [], set()
        for n in range(a.rounds):
            status, ms = timed_request(a.port, "POST", "/api/v1/deploys", deploy_body(md, n), token)
            times.append(ms)
            statuses.add(status)
        print(f"  {name:<26} {','.join(map(str, sorted(statuses))):>6} {statistics.median(times):>10.1f}")

    def healthz_ms(samples):
        out = []
        for _ in range(samples):
            status, ms = timed_request(a.port, "GET", "/healthz")
            out.append(ms)
            time.sleep(0.01)
        return statistics.median(out), max(out)

    idle_med, idle_max = healthz_ms(100)
    stop_flag = threading.Event()

    def attacker(k):
        n = 0
        while not stop_flag.is_set():
            timed_request(a.port, "POST", "/api/v1/deploys", deploy_body(">" * 49_990, f"a{k}-{n}"), token)
            n += 1

    threads = [threading.Thread(target=attacker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    busy_med, busy_max = healthz_ms(100)
    stop_flag.set()
    for t in threads:
        t.join()
    print(f"  GET /healthz idle: median {idle_med:.2f} ms, max {idle_max:.2f} ms")
    print(f"  GET /healthz with 4 clients sending the blockquote: median {busy_med:.2f} ms, max {busy_max:.2f} ms")
    print(f"HOSTILE_RESULT idle_ms={idle_med:.2f} busy_ms={busy_med:.2f} busy_max_ms={busy_max:.2f} "
          f"ratio={busy_med / idle_med if idle_med else 0:.1f}")
    return 0


def cmd_port_free(a):
    return 0 if port_free(a.port) else 1


def cmd_db_url(a):
    parts = urllib.parse.urlsplit(a.url)
    print(urllib.parse.urlunsplit(parts._replace(path="/" + a.db)))
    return 0


def cmd_crawl(a):
    import re
    for start in a.start:
        path = start
        for _ in range(a.depth + 1):
            print(path)
            conn = http.client.HTTPConnection(HOST, a.port, timeout=30)
            conn.request("GET", path)
            res = conn.getresponse()
            html = res.read().decode("utf-8", "replace")
            conn.close()
            m = re.search(r'rel="next" href="([^"]+)"', html)
            if res.status != 200 or not m:
                break
            path = m.group(1).replace("&amp;", "&")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("coldstart")
    c.add_argument("--bin", required=True)
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--site-root", required=True)
    c.add_argument("--samples", type=int, default=10)
    c.add_argument("--timeout", type=float, default=20.0)
    c.add_argument("--out", required=True)
    c.set_defaults(fn=cmd_coldstart)
    w = sub.add_parser("wait-ready")
    w.add_argument("--port", type=int, required=True)
    w.add_argument("--pid", type=int, default=0)
    w.add_argument("--timeout", type=float, default=30.0)
    w.set_defaults(fn=cmd_wait_ready)
    k = sub.add_parser("check-deploys")
    k.add_argument("--port", type=int, required=True)
    k.add_argument("--entries", type=int, required=True)
    k.set_defaults(fn=cmd_check_deploys)
    h = sub.add_parser("hostile-markdown")
    h.add_argument("--port", type=int, required=True)
    h.add_argument("--rounds", type=int, default=5)
    h.set_defaults(fn=cmd_hostile_markdown)
    f = sub.add_parser("port-free")
    f.add_argument("--port", type=int, required=True)
    f.set_defaults(fn=cmd_port_free)
    cr = sub.add_parser("crawl")
    cr.add_argument("--port", type=int, required=True)
    cr.add_argument("--depth", type=int, default=5)
    cr.add_argument("start", nargs="+")
    cr.set_defaults(fn=cmd_crawl)
    d = sub.add_parser("db-url")
    d.add_argument("--url", required=True)
    d.add_argument("--db", required=True)
    d.set_defaults(fn=cmd_db_url)
    a = p.parse_args()
    sys.exit(a.fn(a))


if __name__ == "__main__":
    main()
