#!/usr/bin/env python3
"""Helpers for bench/gate.sh (standard library only).

  gate.py first-deploy --port PORT [--days D]   (token in SHIPLOG_BENCH_TOKEN)
      Through the API: the first deploy to `production`, D days and two hours
      ago, so that the server creates the environment as it does (with its
      kind and deploy nights, on schemas that have them).

  gate.py seed --db FILE --deploys N --entries E --commits C --blocks B --holding H --plan FILE
      Writes the history of environment `production` straight into the
      SQLite file after its first deploy (the server must not be running):
      deploys over two years up to N in all (97% succeeded, 2% failed, 1%
      rolled back), each with the build it shipped, E entries and C
      commits; and B - H blocks placed in the past,
      about half lifted with a note and the rest expired. Timestamps are
      written as the server writes them (RFC 3339, UTC, `+00:00`), so the
      server's text comparisons hold. Writes FILE: recent entries to block.

  gate.py setup --port PORT --plan FILE --holding H --whole 0|1 --build-commits K
      (token in SHIPLOG_BENCH_TOKEN) Through the API, on the running server:
      records the builds not deployed yet, newest last: the benchmark build
      (passed, K conventional commits, none in a blocked component or
      carrying a blocked entry), a failed build, and a passed build that a
      component block and an entry block stop; then places the H blocks that
      hold now: one on the whole environment when --whole is 1, about 40%
      on components, the rest on entries. Prints `BUILD_ID=<benchmark build>`.

  gate.py check --port PORT --path PATH --expect STATUS   (token in SHIPLOG_BENCH_TOKEN)
      One GET: prints its status, time and what it answered; exit 1 (with
      the body) when the status is not STATUS.

Seeding through the API (POST /api/v1/builds then /api/v1/deploys) managed
about 550 deploys per second here, three minutes for 100,000: hence SQLite.
"""

import argparse
import hashlib
import http.client
import json
import os
import random
import sqlite3
import sys
import time
from datetime import datetime, timedelta, timezone

HOST = "127.0.0.1"
ENV = "production"
# Components of the seeded entries and commits. The benchmark build touches
# only TOUCHED; holding component blocks are on the others.
TOUCHED = ["search", "api", "ui", "reports", "exports"]
UNTOUCHED = ["billing", "auth", "notifications", "payments", "onboarding", "integrations", "admin"]
COMPONENTS = TOUCHED + UNTOUCHED
KINDS = ["feature", "fix", "improvement", "security", "internal"]
COMMIT_TYPES = {"feature": "feat", "fix": "fix", "improvement": "perf", "security": "security",
                "internal": "chore"}
SUBJECTS = ["CSV export", "saved filters", "audit trail", "dark mode", "rate limits", "bulk edit",
            "webhooks", "two-factor sign-in", "invoice PDFs", "team roles", "time zones",
            "empty states", "keyboard shortcuts", "retry on timeout", "search ranking"]
PEOPLE = ["alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com",
          "token:ci", "token:oncall"]
REASONS = ["Error rate up after the last deploy", "Incident in progress", "Waiting for the migration",
           "Customer demo tomorrow", "Flaky payment provider", "Holiday freeze",
           "Regression found in staging", "Security review pending"]
LIFT_NOTES = ["Fixed forward", "Rolled back, error rate normal", "Demo done", "Migration finished",
              "False alarm", "Provider stable again"]


def ts(dt):
    """A UTC time as sqlx writes chrono's DateTime<Utc> into SQLite."""
    dt = dt.astimezone(timezone.utc)
    if dt.microsecond:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    return dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def sha(*parts):
    return hashlib.sha1("/".join(map(str, parts)).encode()).hexdigest()


def cmd_seed(a):
    rng = random.Random(20261128)
    db = sqlite3.connect(a.db, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = OFF")
    db.execute("PRAGMA cache_size = -262144")
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    missing = {"environments", "deploys", "entries", "commits", "builds", "blocks"} - tables
    if missing:
        print(f"  the database has no table {', '.join(sorted(missing))}: run `shiplog migrate` first",
              file=sys.stderr)
        return 1
    row = db.execute("SELECT id FROM environments WHERE slug = ?", (ENV,)).fetchone()
    if row is None:
        print(f"  the database has no environment `{ENV}`: run `gate.py first-deploy` first", file=sys.stderr)
        return 1
    env_id = row[0]
    # The deploys there already (the first one, made through the API) count.
    to_add = a.deploys - db.execute("SELECT COUNT(*) FROM deploys WHERE environment_id = ?",
                                    (env_id,)).fetchone()[0]
    if to_add < 0:
        print(f"  production already has more than {a.deploys} deploys; seed a fresh database", file=sys.stderr)
        return 1

    now = datetime.now(timezone.utc)
    end = now - timedelta(hours=1)
    start = end - timedelta(days=a.days)
    step = (end - start) / max(to_add, 1)
    db.execute("BEGIN")

    deploy_rows, build_rows, entry_rows, commit_rows = [], [], [], []
    # (time, first entry id, deploy commit) of each deploy, for blocks.
    history = []
    build_id = db.execute("SELECT COALESCE(MAX(id), 0) FROM builds").fetchone()[0]
    deploy_id = db.execute("SELECT COALESCE(MAX(id), 0) FROM deploys").fetchone()[0]
    entry_id = db.execute("SELECT COALESCE(MAX(id), 0) FROM entries").fetchone()[0]

    def flush():
        db.executemany(
            "INSERT INTO builds (id, version, commit_sha, branch, status, url, commits, created_by,"
            " created_at, updated_at, finished_at) VALUES (?, ?, ?, 'main', 'passed', ?, ?, 'token:ci',"
            " ?, ?, ?)", build_rows)
        db.executemany(
            "INSERT INTO deploys (id, environment_id, version, commit_sha, status, started_at,"
            " finished_at, created_by, created_at, build_id) VALUES (?, ?, ?, ?, ?, ?, ?, 'token:ci', ?, ?)",
            deploy_rows)
        db.executemany(
            "INSERT INTO entries (id, deploy_id, position, title, body, body_html, kind, audience, risk,"
            " component, breaking, links, created_at, updated_at, body_text, shipped_environment,"
            " shipped_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'everyone', ?, ?, FALSE, '[]', ?, ?, ?, ?, ?)",
            entry_rows)
        db.executemany(
            "INSERT INTO commits (deploy_id, position, sha, message, author, authored_at)"
            " VALUES (?, ?, ?, ?, ?, ?)", commit_rows)
        for rows in (deploy_rows, build_rows, entry_rows, commit_rows):
            rows.clear()

    for i in range(to_add):
        started = start + step * i + timedelta(seconds=rng.uniform(0, 30))
        finished = started + timedelta(seconds=rng.uniform(90, 600))
        r = rng.random()
        status = "succeeded" if r < 0.97 else ("failed" if r < 0.99 else "rolled_back")
        version = f"{started:%Y.%m.%d}-{i + 1}"
        build_id += 1
        deploy_id += 1
        commits = []
        for k in range(a.commits):
            kind = KINDS[(i + k) % len(KINDS)]
            component = COMPONENTS[(i * 3 + k) % len(COMPONENTS)]
            subject = SUBJECTS[(i + 2 * k) % len(SUBJECTS)]
            commits.append({"author": None, "authored_at": None,
                            "message": f"{COMMIT_TYPES[kind]}({component}): {subject.lower()} ({i + 1}.{k + 1})",
                            "sha": sha("deploy", i, k)})
        head = commits[0]["sha"] if commits else sha("deploy", i, "head")
        build_rows.append((build_id, version, head, f"https://ci.example.com/builds/{build_id}",
                           json.dumps(commits, separators=(",", ":")),
                           ts(started - timedelta(minutes=12)), ts(started - timedelta(minutes=2)),
                           ts(started - timedelta(minutes=2))))
        deploy_rows.append((deploy_id, env_id, version, head, status, ts(started),
                            ts(finished) if status != "started" else None, ts(started), build_id))
        shipped_at = ts(finished) if status == "succeeded" else None
        shipped_env = ENV if status == "succeeded" else None
        first_entry = entry_id + 1
        for p in range(a.entries):
            entry_id += 1
            kind = KINDS[(i + p) % len(KINDS)]
            component = COMPONENTS[(i * 3 + p) % len(COMPONENTS)]
            subject = SUBJECTS[(i + 2 * p) % len(SUBJECTS)]
            title = f"{'Fix' if kind == 'fix' else 'Add'} {subject} in {component} ({i + 1}.{p + 1})"
            body = f"The {component} screen now handles {subject.lower()}. Change {p + 1} of deploy {version}."
            entry_rows.append((entry_id, deploy_id, p, title, body, f"<p>{body}</p>\n", kind,
                               ["low", "low", "medium", "high"][(i + p) % 4], component,
                               ts(started), ts(started), body, shipped_env, shipped_at))
        for k, c in enumerate(commits):
            commit_rows.append((deploy_id, k, c["sha"], c["message"], PEOPLE[(i + k) % 4], None))
        history.append((started, first_entry if a.entries else None, head, status))
        if len(deploy_rows) >= 5000:
            flush()
    flush()

    # Blocks of the past: placed before four days ago, so every one has ended.
    past = max(a.blocks - a.holding, 0)
    latest = now - timedelta(days=4)
    block_rows = []
    for _ in range(past):
        placed = start + (latest - start) * rng.random()
        lasts = timedelta(hours=rng.uniform(12, 72))
        scope = rng.random()
        entry, component = None, None
        if scope < 0.4 and a.entries and history:
            # An entry shipped shortly before the block was placed.
            idx = min(int((placed - start) / step), len(history) - 1) if step else 0
            entry = history[max(idx - rng.randrange(0, 5), 0)][1]
        elif scope < 0.85:
            component = rng.choice(COMPONENTS)
        lifted = rng.random() < 0.55
        lifted_at = placed + lasts * rng.uniform(0.05, 0.9) if lifted else None
        block_rows.append((env_id, rng.choice(REASONS), entry, component, rng.choice(PEOPLE),
                           ts(placed), ts(placed + lasts),
                           rng.choice(PEOPLE) if lifted else None,
                           ts(lifted_at) if lifted else None,
                           rng.choice(LIFT_NOTES) if lifted else None))
    db.executemany(
        "INSERT INTO blocks (environment_id, reason, entry_id, component, placed_by, placed_at,"
        " expires_at, lifted_by, lifted_at, lift_note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        block_rows)
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # The entries the holding blocks name: shipped in the last 500 deploys.
    recent = [h for h in history[-500:] if h[1] is not None and h[3] == "succeeded"]
    rng.shuffle(recent)
    plan = {"entries": [{"id": h[1], "sha": h[2]} for h in recent[:max(a.holding, 1)]]}
    with open(a.plan, "w") as f:
        json.dump(plan, f)
    counts = {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
              for t in ("deploys", "entries", "commits", "builds", "blocks")}
    lifted = db.execute("SELECT COUNT(*) FROM blocks WHERE lifted_at IS NOT NULL").fetchone()[0]
    db.close()
    print(f"  history in SQLite: {counts['deploys']:,} deploys, {counts['entries']:,} entries, "
          f"{counts['commits']:,} commits, {counts['builds']:,} builds, {counts['blocks']:,} past blocks "
          f"({lifted:,} lifted, {counts['blocks'] - lifted:,} expired); "
          f"{os.path.getsize(a.db) / 1e6:.0f} MB")
    return 0


class Api:
    def __init__(self, port):
        self.port = port
        self.token = os.environ.get("SHIPLOG_BENCH_TOKEN", "")
        self.conn = http.client.HTTPConnection(HOST, port, timeout=60)

    def call(self, method, path, body=None):
        headers = {"Authorization": f"Bearer {self.token}"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body)
        start = time.perf_counter()
        self.conn.request(method, path, body=data, headers=headers)
        res = self.conn.getresponse()
        raw = res.read()
        return res.status, raw, (time.perf_counter() - start) * 1000

    def must(self, method, path, body, want):
        status, raw, _ = self.call(method, path, body)
        if status != want:
            raise SystemExit(f"  {method} {path} answered {status}, not {want}: {raw[:500]!r}")
        return json.loads(raw)


def cmd_setup(a):
    with open(a.plan) as f:
        plan = json.load(f)
    api = Api(a.port)
    run = f"{time.time():.0f}"

    def commit(n, message):
        return {"sha": sha("build", run, n), "message": message}

    # The benchmark build: conventional commits in TOUCHED components only
    # (and some without a scope), so every component block is read in full.
    types = ["feat", "fix", "perf", "refactor", "docs", "test", "chore"]
    commits = []
    for k in range(a.build_commits):
        subject = SUBJECTS[k % len(SUBJECTS)].lower()
        if k % 10 == 9:
            commits.append(commit(k, f"chore: bump dependencies ({k + 1})"))
        else:
            commits.append(commit(k, f"{types[k % len(types)]}({TOUCHED[k % len(TOUCHED)]}): {subject} ({k + 1})"))
    bench = api.must("POST", "/api/v1/builds", {
        "version": f"bench-{run}", "commit": commits[0]["sha"] if commits else sha("build", run, "head"),
        "branch": "main", "status": "passed", "url": f"https://ci.example.com/builds/bench-{run}",
        "commits": commits, "tests": {"passed": 4210, "failed": 0, "skipped": 12}}, 201)
    api.must("POST", "/api/v1/builds", {
        "version": f"bench-{run}-failed", "commit": sha("failed", run), "branch": "main",
        "status": "failed", "commits": [commit(1000 + k, f"fix(ui): flaky layout ({k})") for k in range(5)],
        "tests": {"passed": 4200, "failed": 3, "skipped": 12}}, 201)
    # The newest build: passed, but it carries a blocked entry's change and
    # touches a blocked component, so the promotable build is the benchmark one.
    blocked_commits = [commit(2000 + k, f"feat(search): ranking tweak ({k})") for k in range(8)]
    blocked_commits.append({"sha": plan["entries"][0]["sha"], "message": "fix(reports): cherry-pick"})
    blocked_commits.append(commit(2100, f"fix({UNTOUCHED[0]}): round invoice totals"))
    api.must("POST", "/api/v1/builds", {
        "version": f"bench-{run}-blocked", "commit": sha("blocked", run), "branch": "main",
        "status": "passed", "commits": blocked_commits}, 201)

    # The blocks that hold now.
    expires = (datetime.now(timezone.utc) + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    whole = 1 if a.whole and a.holding else 0
    n_component = round((a.holding - whole) * 0.4)
    n_entry = a.holding - whole - n_component
    if n_entry > len(plan["entries"]):
        raise SystemExit(f"  only {len(plan['entries'])} recent entries to block; lower SHIPLOG_BENCH_HOLDING")
    placed = {"whole": 0, "component": 0, "entry": 0}
    for k in range(a.holding):
        body = {"environment": ENV, "reason": REASONS[k % len(REASONS)], "expires_at": expires}
        if k < whole:
            kind = "whole"
        elif k < whole + n_component:
            kind = "component"
            # The first component block is on the component the blocked build touches.
            body["component"] = UNTOUCHED[(k - whole) % len(UNTOUCHED)]
        else:
            kind = "entry"
            body["entry_id"] = plan["entries"][k - whole - n_component]["id"]
        api.must("POST", "/api/v1/blocks", body, 201)
        placed[kind] += 1
    # Read the seeded rows back through the API: a row the server cannot
    # decode (a time in the wrong format) answers 500 here.
    blocks = api.must("GET", f"/api/v1/blocks?environment={ENV}", None, 200)
    states = {}
    for b in blocks:
        states[b.get("state")] = states.get(b.get("state"), 0) + 1
    page = api.must("GET", f"/api/v1/deploys?environment={ENV}&limit=100", None, 200)
    deploy = api.must("GET", f"/api/v1/deploys/{page['deploys'][-1]['id']}", None, 200)
    build = api.must("GET", f"/api/v1/builds/{bench['id'] - 1}", None, 200)
    print(f"  read back: the newest {len(blocks)} blocks by state {dict(sorted(states.items(), key=str))}; "
          f"deploy {deploy['version']} with {len(deploy['entries'])} entries and {len(deploy['commits'])} "
          f"commits; build {build['version']} with {len(build['commits'])} commits")
    print(f"  through the API: 3 builds not deployed yet (benchmark build {bench['id']} with "
          f"{len(commits)} commits, a failed one, a blocked one), {a.holding} blocks that hold "
          f"({placed['entry']} on entries, {placed['component']} on components, "
          f"{placed['whole']} on the whole environment)")
    print(f"BUILD_ID={bench['id']}")
    return 0


def cmd_first_deploy(a):
    """The environment and its first deploy, made by the server itself."""
    api = Api(a.port)
    first = datetime.now(timezone.utc) - timedelta(days=a.days, hours=2)
    body = {"environment": ENV, "version": f"{first:%Y.%m.%d}-0", "commit": sha("deploy", "first"),
            "status": "succeeded", "started_at": first.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "finished_at": (first + timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "entries": [{"title": "First deploy recorded in Shiplog", "kind": "internal",
                         "body": "The deploy log starts here.", "component": "api"}]}
    api.must("POST", "/api/v1/deploys", body, 201)
    return 0


def cmd_check(a):
    api = Api(a.port)
    try:
        status, raw, ms = api.call("GET", a.path)
    except (OSError, http.client.HTTPException) as e:
        print(f"  GET {a.path} failed: {e}", file=sys.stderr)
        return 1
    if status != a.expect:
        print(f"  GET {a.path} answered {status}, not {a.expect}:\n{raw[:2000].decode(errors='replace')}",
              file=sys.stderr)
        return 1
    try:
        body = json.loads(raw)
    except ValueError:
        print(f"  GET {a.path} answered {status} but not JSON: {raw[:500]!r}", file=sys.stderr)
        return 1
    if "open" in body:
        what = (f"gate {'open' if body['open'] else 'closed'}, {len(body.get('reasons', []))} reasons, "
                f"{len(body.get('blocks', []))} blocks apply")
    elif "reasons" in body:
        what = f"no build promotable, {len(body['reasons'])} reasons"
    else:
        what = f"build {body.get('version')} (id {body.get('id')}) is promotable"
    print(f"  first answer {status} in {ms:.1f} ms, {len(raw):,} bytes: {what}")
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("seed")
    s.add_argument("--db", required=True)
    s.add_argument("--deploys", type=int, default=100_000)
    s.add_argument("--entries", type=int, default=3)
    s.add_argument("--commits", type=int, default=2)
    s.add_argument("--blocks", type=int, default=1000)
    s.add_argument("--holding", type=int, default=20)
    s.add_argument("--days", type=int, default=730)
    s.add_argument("--plan", required=True)
    s.set_defaults(fn=cmd_seed)
    f = sub.add_parser("first-deploy")
    f.add_argument("--port", type=int, required=True)
    f.add_argument("--days", type=int, default=730)
    f.set_defaults(fn=cmd_first_deploy)
    u = sub.add_parser("setup")
    u.add_argument("--port", type=int, required=True)
    u.add_argument("--plan", required=True)
    u.add_argument("--holding", type=int, default=20)
    u.add_argument("--whole", type=int, default=0)
    u.add_argument("--build-commits", type=int, default=50)
    u.set_defaults(fn=cmd_setup)
    c = sub.add_parser("check")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--path", required=True)
    c.add_argument("--expect", type=int, default=200)
    c.set_defaults(fn=cmd_check)
    a = p.parse_args()
    sys.exit(a.fn(a))


if __name__ == "__main__":
    main()
