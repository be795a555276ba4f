#!/usr/bin/env python3
"""The crash loop of bench/kill9.sh (standard library only).

  kill9.py run --bin BIN --site-root DIR --workdir DIR --db-url URL --label NAME
               [--sqlite-file FILE] [--port PORT] [--rounds N] [--writers W]
               [--entries E] [--kill-min S] [--kill-max S] [--drain 0|1]
               [--drain-timeout S] [--ready-timeout S] [--full-check K] [--seed N]
      (token in SHIPLOG_BENCH_TOKEN; the database exists, migrated, with that token)

      Starts `BIN serve` itself (so the pid it kills is the server's, not a
      shell's; it checks /proc/PID/exe against BIN before each signal).
      W writer threads POST /api/v1/deploys to `production` without pause,
      each deploy with a unique version `k9-<round>-<writer>-<n>` and E
      entries; a deploy counts as acknowledged when its 201 was read in full.
      N times: after a random KILL_MIN..KILL_MAX seconds, SIGKILL the server,
      restart it on the same database and time it to the first 200 from
      /readyz, while the writers go on (refused connections are expected).
      With --drain 1, one more round ends in SIGTERM instead: the server must
      exit 0 within --drain-timeout seconds; every request is classified
      (2xx, 4xx, 5xx, refused, failed mid-flight). Then the server is started
      once more, without writers, and every acknowledged deploy is read back
      (GET /api/v1/deploys?environment=production, pages of 100 by `before`):
      missing ones, ones whose id changed and ones without their E entries
      are counted; the last K acknowledged of each round are also read whole
      (GET /api/v1/deploys/{id}: entries and their titles). Finally the server
      is stopped with SIGTERM and, with --sqlite-file, python's sqlite3 runs
      PRAGMA integrity_check and PRAGMA foreign_key_check on the file.

      Prints a line per round, a summary and `KILL9_RESULT key=value ...`.
      Exit 0: nothing acknowledged was lost and every check held; 2: a
      correctness check failed (lost or damaged deploys, integrity, 5xx, the
      drain); 1: the run itself could not be done (server would not start…).

The server's pid is written to WORKDIR/server.pid while it runs, so that the
calling script can stop it if this process is killed.
"""

import argparse
import http.client
import json
import os
import random
import select
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse

HOST = "127.0.0.1"
ENV = "production"
KINDS = ["feature", "fix", "improvement"]
COMPONENTS = ["api", "search", "billing"]


class RunError(Exception):
    """The run could not be carried out (not a finding about durability)."""


# ---- the server ------------------------------------------------------------------


def readyz(port, timeout=1.0):
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", "/readyz")
        res = conn.getresponse()
        res.read()
        return res.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def accepting(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(0.5)
    try:
        s.connect((HOST, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


class Server:
    def __init__(self, a):
        self.bin = a.bin
        self.port = a.port
        self.workdir = a.workdir
        self.ready_timeout = a.ready_timeout
        self.log_path = os.path.join(a.workdir, f"server-{a.label}.log")
        self.pid_path = os.path.join(a.workdir, "server.pid")
        self.env = dict(os.environ)
        self.env.update(
            DATABASE_URL=a.db_url,
            SHIPLOG_LISTEN=f"{HOST}:{a.port}",
            SHIPLOG_PUBLIC_URL=f"http://{HOST}:{a.port}",
            LEPTOS_SITE_ROOT=a.site_root,
            LEPTOS_OUTPUT_NAME="shiplog",
            SHIPLOG_MAIL_DIR=os.path.join(a.workdir, "mail"),
            RUST_LOG="warn",
        )
        self.env.pop("SHIPLOG_BENCH_TOKEN", None)
        self.proc = None
        self.starts = 0
        bin_stat = os.stat(self.bin)
        self.bin_id = (bin_stat.st_dev, bin_stat.st_ino)

    def start(self):
        """Spawns the server; returns milliseconds from spawn to the first 200 from /readyz."""
        if accepting(self.port):
            raise RunError(f"something already accepts connections on {HOST}:{self.port}")
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"---- start {self.starts} at {time.strftime('%H:%M:%S')} ----\n".encode())
            log.flush()
            t0 = time.perf_counter()
            self.proc = subprocess.Popen([self.bin, "serve"], cwd=self.workdir, env=self.env,
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        with open(self.pid_path, "w") as f:
            f.write(f"{self.proc.pid}\n")
        deadline = t0 + self.ready_timeout
        while True:
            if readyz(self.port, timeout=0.5) == 200:
                return (time.perf_counter() - t0) * 1000
            if self.proc.poll() is not None:
                raise RunError(f"the server exited with code {self.proc.returncode} before /readyz "
                               f"answered 200\n{self.log_tail()}")
            if time.perf_counter() > deadline:
                raise RunError(f"/readyz did not answer 200 within {self.ready_timeout:.0f} s\n"
                               f"{self.log_tail()}")
            time.sleep(0.005)

    def check_pid(self):
        """The pid about to be signalled runs BIN (not a shell, not a recycled pid)."""
        try:
            st = os.stat(f"/proc/{self.proc.pid}/exe")
        except OSError as e:
            raise RunError(f"cannot inspect pid {self.proc.pid}: {e}") from None
        if (st.st_dev, st.st_ino) != self.bin_id:
            raise RunError(f"pid {self.proc.pid} does not run {self.bin}; refusing to signal it")

    def kill9(self):
        self.check_pid()
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self._forget()
        # The killed process was the one listening: nothing may accept now.
        if accepting(self.port):
            raise RunError(f"{HOST}:{self.port} still accepts connections after SIGKILL of the server "
                           f"(pid {self.proc.pid}): another process listens there")

    def terminate(self, timeout):
        """SIGTERM; returns (exit code or None when it outlived the timeout, seconds to exit)."""
        self.check_pid()
        t0 = time.perf_counter()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
            self.proc.kill()
            self.proc.wait()
        elapsed = time.perf_counter() - t0
        self._forget()
        return code, elapsed

    def stop_quietly(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._forget()

    def _forget(self):
        try:
            os.unlink(self.pid_path)
        except OSError:
            pass

    def log_tail(self, chars=3000):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return "--- server output ---\n" + f.read()[-chars:]
        except OSError:
            return ""

    def log_problems(self):
        """Lines of the server's output that report errors or panics."""
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return [l.rstrip() for l in f if "ERROR" in l or "panicked" in l]
        except OSError:
            return []


# ---- the writers -------------------------------------------------------------------


class Record:
    """One attempt: sent at t, over with t_end; fresh when on a new connection."""
    __slots__ = ("version", "round", "outcome", "status", "id", "t", "t_end", "fresh", "err")

    def __init__(self, version, rnd, outcome, t, fresh, status=None, id_=None, err=None):
        self.version, self.round, self.outcome, self.status, self.id = version, rnd, outcome, status, id_
        self.t, self.t_end, self.fresh, self.err = t, time.monotonic(), fresh, err


class Writers:
    """W threads sending deploys without pause; every attempt becomes a Record."""

    def __init__(self, port, token, count, entries):
        self.port = port
        self.token = token
        self.count = count
        self.entries = entries
        self.round = 1
        self.stop = threading.Event()
        self.records = [[] for _ in range(count)]
        self.first_5xx = None
        self.idle_closed = 0  # keep-alive connections found closed before a request
        self.threads = [threading.Thread(target=self.run, args=(k,), daemon=True) for k in range(count)]

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)

    def all(self):
        return [r for recs in self.records for r in recs]

    def body(self, version):
        entries = []
        for p in range(self.entries):
            entries.append({
                "title": f"{version} change {p + 1}",
                "kind": KINDS[p % len(KINDS)],
                "component": COMPONENTS[p % len(COMPONENTS)],
                "body": f"Change {p + 1} of **{version}**, recorded during the kill -9 check.",
            })
        return json.dumps({"environment": ENV, "version": version, "status": "succeeded",
                           "entries": entries})

    def run(self, k):
        recs = self.records[k]
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        conn = None
        n = 0
        while not self.stop.is_set():
            rnd = self.round
            n += 1
            version = f"k9-{rnd}-{k + 1}-{n}"
            if conn is not None and conn.sock is not None:
                # As urllib3 does: a keep-alive connection the server has closed
                # while it was idle is readable (EOF). Reconnect rather than
                # send a request into it.
                try:
                    readable, _, _ = select.select([conn.sock], [], [], 0)
                except (OSError, ValueError):
                    readable = [True]
                if readable:
                    self.idle_closed += 1
                    conn.close()
                    conn = None
            fresh = conn is None
            if fresh:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
            t = time.monotonic()
            try:
                conn.request("POST", "/api/v1/deploys", body=self.body(version), headers=headers)
                res = conn.getresponse()
                raw = res.read()
            except ConnectionRefusedError:
                # Only connect() is refused: the request was never sent.
                recs.append(Record(version, rnd, "refused", t, fresh))
                conn.close()
                conn = None
                self.stop.wait(0.02)
                continue
            except (OSError, http.client.HTTPException) as e:
                recs.append(Record(version, rnd, "midflight", t, fresh, err=type(e).__name__))
                conn.close()
                conn = None
                self.stop.wait(0.02)
                continue
            if res.status == 201:
                try:
                    id_ = json.loads(raw)["id"]
                except (ValueError, KeyError, TypeError):
                    id_ = None
                recs.append(Record(version, rnd, "acked", t, fresh, res.status, id_))
            else:
                recs.append(Record(version, rnd, "status", t, fresh, res.status))
                if res.status >= 500 and self.first_5xx is None:
                    self.first_5xx = f"{res.status} for {version}: {raw[:300]!r}"
                self.stop.wait(0.01)
            if res.will_close:
                conn.close()
                conn = None


# ---- reading back ------------------------------------------------------------------


class Api:
    def __init__(self, port, token):
        self.port, self.token = port, token
        self.conn = http.client.HTTPConnection(HOST, port, timeout=60)

    def get(self, path):
        for attempt in (1, 2):
            try:
                self.conn.request("GET", path, headers={"Authorization": f"Bearer {self.token}"})
                res = self.conn.getresponse()
                raw = res.read()
                break
            except (OSError, http.client.HTTPException) as e:
                self.conn.close()
                if attempt == 2:
                    raise RunError(f"GET {path} failed: {e}") from None
        if res.status != 200:
            raise RunError(f"GET {path} answered {res.status}: {raw[:300]!r}")
        return json.loads(raw)


def read_back(api):
    """Every deploy of production: {version: [(id, entry_count), ...]}, and the pages read."""
    stored, before, pages = {}, None, 0
    while True:
        q = {"environment": ENV, "limit": 100}
        if before is not None:
            q["before"] = before
        page = api.get("/api/v1/deploys?" + urllib.parse.urlencode(q))
        pages += 1
        for d in page.get("deploys", []):
            stored.setdefault(d["version"], []).append((d["id"], d.get("entry_count")))
        before = page.get("next_before")
        if before is None or not page.get("deploys"):
            return stored, pages


# ---- the run -----------------------------------------------------------------------


def counts(recs):
    c = {"acked": 0, "refused": 0, "midflight": 0, "2xx": 0, "4xx": 0, "5xx": 0, "other": 0}
    statuses = {}
    for r in recs:
        if r.outcome == "status":
            statuses[r.status] = statuses.get(r.status, 0) + 1
            c[f"{r.status // 100}xx" if r.status // 100 in (2, 4, 5) else "other"] += 1
        else:
            c[r.outcome] += 1
    return c, statuses


def fmt_statuses(statuses):
    return ", ".join(f"{s}x{n}" for s, n in sorted(statuses.items())) or "none"


def cmd_run(a):
    token = os.environ.get("SHIPLOG_BENCH_TOKEN", "")
    if not token:
        print("  SHIPLOG_BENCH_TOKEN is empty", file=sys.stderr)
        return 1
    seed = a.seed if a.seed is not None else random.randrange(1_000_000)
    rng = random.Random(seed)
    server = Server(a)
    writers = Writers(a.port, token, a.writers, a.entries)
    failures = []
    try:
        return run(a, rng, seed, server, writers, token, failures)
    except RunError as e:
        print(f"  [{a.label}] {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"  [{a.label}] interrupted", file=sys.stderr)
        return 130
    finally:
        writers.stop.set()
        server.stop_quietly()


def run(a, rng, seed, server, writers, token, failures):
    L = f"  [{a.label}]"
    print(f"{L} {a.writers} writers, {a.rounds} kill -9 rounds after {a.kill_min:g}-{a.kill_max:g} s each"
          f"{', then a SIGTERM round' if a.drain else ''}; {a.entries} entries per deploy; seed {seed}",
          flush=True)
    ready_ms = server.start()
    print(f"{L} server ready in {ready_ms:.0f} ms (pid {server.proc.pid}); writers start", flush=True)
    writers.start()
    restarts = []  # (ms spawn -> ready, ms kill -> ready)
    round_lines = []
    for rnd in range(1, a.rounds + 1):
        began = time.monotonic()
        time.sleep(rng.uniform(a.kill_min, a.kill_max))
        pid = server.proc.pid
        t_kill = time.perf_counter()
        server.kill9()
        ran = time.monotonic() - began
        writers.round = rnd + 1
        ready_ms = server.start()
        total_ms = (time.perf_counter() - t_kill) * 1000
        restarts.append((ready_ms, total_ms))
        c, statuses = counts(r for r in writers.all() if r.round == rnd)
        line = (f"{L} round {rnd}: SIGKILL pid {pid} after {ran:.1f} s; acknowledged {c['acked']} "
                f"({c['acked'] / ran:.0f}/s); other answers: {fmt_statuses(statuses)}; "
                f"refused {c['refused']}, failed mid-flight {c['midflight']}; "
                f"ready again in {ready_ms:.0f} ms ({total_ms:.0f} ms from the kill)")
        print(line, flush=True)
        round_lines.append(line)

    drain = None
    if a.drain:
        rnd = a.rounds + 1
        began = time.monotonic()
        time.sleep(rng.uniform(a.kill_min, a.kill_max))
        ran = time.monotonic() - began
        pid = server.proc.pid
        t_term = time.monotonic()
        code, exit_s = server.terminate(a.drain_timeout)
        # The writers go on a little: after the exit they must be refused cleanly.
        time.sleep(0.5)
        writers.round = rnd + 1
        writers.finish()
        recs = [r for r in writers.all() if r.round == rnd]
        after = [r for r in recs if r.t >= t_term]
        c, statuses = counts(recs)
        ca, statuses_after = counts(after)
        inflight = [r for r in recs if r.t < t_term <= r.t_end]
        ci, statuses_inflight = counts(inflight)
        drain = {"code": code, "exit_s": exit_s, "c": c, "ca": ca, "after": after,
                 "midflight": [r for r in recs if r.outcome == "midflight"]}
        code_txt = f"exit code {code} in {exit_s:.2f} s" if code is not None else \
            f"still running after {a.drain_timeout:g} s (killed)"
        print(f"{L} round {rnd} (drain): SIGTERM pid {pid} after {ran:.1f} s; {code_txt}; "
              f"acknowledged {c['acked']}; other answers: {fmt_statuses(statuses)}; "
              f"refused {c['refused']}, failed mid-flight {c['midflight']}", flush=True)
        print(f"{L}   in flight at the SIGTERM: {len(inflight)}: acknowledged {ci['acked']}, "
              f"other answers {fmt_statuses(statuses_inflight)}, failed mid-flight {ci['midflight']}",
              flush=True)
        print(f"{L}   sent after the SIGTERM: {len(after)}: acknowledged {ca['acked']}, "
              f"other answers {fmt_statuses(statuses_after)}, refused {ca['refused']}, "
              f"failed mid-flight {ca['midflight']}", flush=True)
        for r in drain["midflight"][:10]:
            when = "before" if r.t < t_term else "after"
            print(f"{L}   mid-flight: {r.version}, sent {abs(r.t - t_term) * 1000:.1f} ms {when} the SIGTERM "
                  f"on a {'new' if r.fresh else 'kept-alive'} connection: {r.err}", flush=True)
        if code != 0:
            failures.append(f"after SIGTERM the server {code_txt}, not exit code 0")
    else:
        writers.finish()

    # ---- read back -------------------------------------------------------------------
    t0 = time.perf_counter()
    if a.drain:
        restart_note = f"after a restart, ready in {server.start():.0f} ms"
    else:
        restart_note = "on the server restarted after the last kill"
    recs = writers.all()
    acked = [r for r in recs if r.outcome == "acked"]
    api = Api(a.port, token)
    stored, pages = read_back(api)
    missing, moved, bad_entries, dup = [], [], [], 0
    for r in acked:
        rows = stored.get(r.version)
        if not rows:
            missing.append(r)
            continue
        if len(rows) > 1:
            dup += 1
        if r.id is not None and all(row[0] != r.id for row in rows):
            moved.append(r)
        if any(row[1] != a.entries for row in rows):
            bad_entries.append(r)
    acked_versions = {r.version for r in acked}
    sent = {r.version: r for r in recs}
    extra = [v for v in stored if v.startswith("k9-") and v not in acked_versions]
    extra_midflight = [v for v in extra if sent.get(v) is not None and sent[v].outcome == "midflight"]
    extra_other = [v for v in extra if v not in extra_midflight]
    # Whole deploys: the last K acknowledged before each kill (and the drain).
    by_round = {}
    for r in acked:
        by_round.setdefault(r.round, []).append(r)
    full_checked, full_bad = 0, []
    for rnd, rs in sorted(by_round.items()):
        rs.sort(key=lambda r: r.t)
        for r in rs[-a.full_check:]:
            if r.id is None or r.version not in stored:
                continue
            d = api.get(f"/api/v1/deploys/{r.id}")
            full_checked += 1
            titles = sorted(e.get("title", "") for e in d.get("entries", []))
            want = sorted(f"{r.version} change {p + 1}" for p in range(a.entries))
            if d.get("version") != r.version or titles != want:
                full_bad.append(f"{r.version} (id {r.id}): version {d.get('version')!r}, titles {titles}")
    read_s = time.perf_counter() - t0
    c_all, statuses_all = counts(recs)

    # ---- stop, then the file ---------------------------------------------------------------
    code, exit_s = server.terminate(a.drain_timeout)
    integrity, fk_problems, db_deploys = "not run (PostgreSQL: integrity_check is SQLite-only)", None, None
    if a.sqlite_file:
        try:
            db = sqlite3.connect(a.sqlite_file)
            rows = [r[0] for r in db.execute("PRAGMA integrity_check")]
            integrity = "ok" if rows == ["ok"] else "; ".join(rows[:10])
            fk_problems = len(db.execute("PRAGMA foreign_key_check").fetchall())
            db_deploys = db.execute("SELECT COUNT(*) FROM deploys d JOIN environments e"
                                    " ON e.id = d.environment_id WHERE e.slug = ?", (ENV,)).fetchone()[0]
            db.close()
        except sqlite3.Error as e:
            integrity = f"error: {e}"

    # ---- figures -------------------------------------------------------------------------
    problems = server.log_problems()
    print(f"{L} read back ({restart_note}): {sum(len(v) for v in stored.values()):,} deploys "
          f"of production in {pages} pages, {read_s:.1f} s; {full_checked} read whole "
          f"(the last {a.full_check} acknowledged of each round)", flush=True)
    if dup:
        print(f"{L}   WARNING: {dup} versions are listed more than once")
    if extra:
        print(f"{L}   stored but not acknowledged: {len(extra)} ({len(extra_midflight)} whose request "
              f"failed mid-flight, {len(extra_other)} others)")
    if moved:
        print(f"{L}   {len(moved)} acknowledged deploys are stored under another id, e.g. "
              f"{moved[0].version} (was id {moved[0].id})")
    if missing:
        ex = ", ".join(f"{r.version} (id {r.id})" for r in missing[:5])
        print(f"{L}   LOST: {len(missing)} acknowledged deploys are missing, e.g. {ex}")
        failures.append(f"{len(missing)} acknowledged deploys are missing")
    if bad_entries:
        print(f"{L}   DAMAGED: {len(bad_entries)} acknowledged deploys do not have {a.entries} entries, "
              f"e.g. {bad_entries[0].version}: {stored[bad_entries[0].version]}")
        failures.append(f"{len(bad_entries)} acknowledged deploys lack entries")
    if full_bad:
        print(f"{L}   DAMAGED (read whole): {len(full_bad)}, e.g. {full_bad[0]}")
        failures.append(f"{len(full_bad)} deploys read whole differ from what was sent")
    if moved:
        failures.append(f"{len(moved)} acknowledged deploys changed id")
    if c_all["5xx"]:
        print(f"{L}   5xx answers: {c_all['5xx']}; first: {writers.first_5xx}")
        failures.append(f"{c_all['5xx']} answers were 5xx")
    if a.sqlite_file:
        if db_deploys is not None:
            print(f"{L} SQLite file after a clean stop: PRAGMA integrity_check: {integrity}; "
                  f"foreign_key_check: {fk_problems} rows; {db_deploys:,} production deploys in the table")
        else:
            print(f"{L} SQLite file: PRAGMA integrity_check: {integrity}")
        if integrity != "ok":
            failures.append(f"integrity_check: {integrity}")
        if fk_problems:
            failures.append(f"foreign_key_check: {fk_problems} rows")
    else:
        print(f"{L} integrity: not checked (PRAGMA integrity_check is SQLite-only; only Shiplog was"
              f" killed, the PostgreSQL server ran throughout)")
    stop_txt = f"exit code {code} in {exit_s:.2f} s" if code is not None else "had to be killed"
    print(f"{L} final stop (SIGTERM, no writers): {stop_txt}")
    if code != 0:
        failures.append(f"the final SIGTERM stop: {stop_txt}")
    if problems:
        print(f"{L} server output: {len(problems)} error/panic lines, first: {problems[0][:300]}")

    kill_ready = [r[0] for r in restarts]
    if kill_ready:
        print(f"{L} restart after SIGKILL to /readyz 200: min {min(kill_ready):.0f} ms, "
              f"max {max(kill_ready):.0f} ms over {len(kill_ready)} restarts")
    print(f"{L} acknowledged {len(acked):,} of {len(recs):,} requests; missing {len(missing)}; "
          f"answers: {fmt_statuses(statuses_all) if statuses_all else 'only 201'} besides 201; "
          f"refused {c_all['refused']}, failed mid-flight {c_all['midflight']}; "
          f"idle keep-alive connections found closed and reopened: {writers.idle_closed}")
    if drain is not None:
        dm = drain["midflight"]
        dm_stored = sum(1 for r in dm if r.version in stored)
        if dm:
            print(f"{L}   WARNING: {len(dm)} requests of the SIGTERM round failed mid-flight "
                  f"({dm_stored} of them stored anyway)")
    for f in failures:
        print(f"{L} FAILED: {f}")
    drain_fields = ""
    if drain is not None:
        drain_fields = (f" drain_exit={drain['code'] if drain['code'] is not None else 'timeout'}"
                        f" drain_s={drain['exit_s']:.2f} drain_acked={drain['c']['acked']}"
                        f" drain_refused={drain['c']['refused']} drain_midflight={drain['c']['midflight']}"
                        f" drain_5xx={drain['c']['5xx']}")
    print(f"KILL9_RESULT label={a.label} rounds={a.rounds} acked={len(acked)} requests={len(recs)}"
          f" missing={len(missing)} bad_entries={len(bad_entries) + len(full_bad)} moved={len(moved)}"
          f" unacked_stored={len(extra)} non201={sum(statuses_all.values())} s5xx={c_all['5xx']}"
          f" refused={c_all['refused']} midflight={c_all['midflight']}"
          f" ready_min_ms={min(kill_ready) if kill_ready else 0:.0f}"
          f" ready_max_ms={max(kill_ready) if kill_ready else 0:.0f}"
          f" integrity={'ok' if integrity == 'ok' else ('n/a' if not a.sqlite_file else 'FAILED')}"
          f"{drain_fields} failures={len(failures)}", flush=True)
    return 2 if failures else 0


def on_term(signum, frame):
    raise KeyboardInterrupt  # stop the writers and the server on the way out


def main():
    signal.signal(signal.SIGTERM, on_term)
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--bin", required=True)
    r.add_argument("--site-root", required=True)
    r.add_argument("--workdir", required=True)
    r.add_argument("--db-url", required=True)
    r.add_argument("--label", required=True)
    r.add_argument("--sqlite-file")
    r.add_argument("--port", type=int, default=3740)
    r.add_argument("--rounds", type=int, default=5)
    r.add_argument("--writers", type=int, default=8)
    r.add_argument("--entries", type=int, default=3)
    r.add_argument("--kill-min", type=float, default=2.0)
    r.add_argument("--kill-max", type=float, default=5.0)
    r.add_argument("--drain", type=int, default=1)
    r.add_argument("--drain-timeout", type=float, default=10.0)
    r.add_argument("--ready-timeout", type=float, default=60.0)
    r.add_argument("--full-check", type=int, default=20)
    r.add_argument("--seed", type=int)
    r.set_defaults(fn=cmd_run)
    a = p.parse_args()
    a.bin = os.path.abspath(a.bin)
    sys.exit(a.fn(a))


if __name__ == "__main__":
    main()
