"""N concurrent annotators label 60 real PolNeAR articles (2,257 sentences, overlap 3) through
srcrel's annotator gateway, first on SQLite then on PostgreSQL, and the two runs side by side.

    python benchmarks/annotator_load.py [--annotators 20] [--seconds 60] [--max-annotations 10000]
                                        [--workers 2] [--think 0] [--json PATH]

Each annotator is a thread with its own requests.Session that logs in as a browser does and loops
`next_task` -> submit (3% skips) until the stream is empty, time is up or the count cap is reached.
What the server stored is read back with `srcrel pull`. Issue targets, at 20 annotators on
PostgreSQL: 0 lost, 0 5xx, submit p95 < 1 s, throughput >= 2x SQLite. Each database gets its own
managed Label Studio + gateway in a temporary data dir on free loopback ports, stopped after.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from labeling.ingest.config import IngestConfig
from labeling.ingest.run import run_ingest
from labeling.studio.config import Database, ProjectSettings, PullConfig, PushConfig, StudioSettings
from labeling.studio.connection import gateway_url
from labeling.studio.pull import pull_export
from labeling.studio.push import push_tasks
from labeling.studio.server import start_server, stop_server
from srcrel.cli import compose_stage_config
from srcrel_core.labelset import load_label_set
from srcrel_core.settings import to_dataclass

ROOT = Path(__file__).resolve().parent.parent
ARTICLES = ROOT.parent / "shared" / "data" / "polnear" / "articles"
STUDIO_EXECUTABLE = ROOT / ".venv-studio" / "bin" / "label-studio"
PROJECT = "annotator-load"
OVERLAP = 3
SKIP_RATE = 0.03
REFERENCE = ("issue reference (SQLite, 12 users, 180 s): next p50 1.6 s, p95 5.9 s, max 38 s; "
             "POST p50 0.9 s, p95 1.8 s; 3.6 annotations/s; 23 of 205 tasks over the overlap")


@dataclass
class UserLog:
    """What one annotator saw (only its own thread writes it)."""

    next_s: list[float] = field(default_factory=list)
    submit_s: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)  # "next 200", "submit 201", "submit error"
    attempted: int = 0
    acknowledged: dict[int, int] = field(default_factory=dict)  # annotation id -> task id


@dataclass(frozen=True)
class Figures:
    database: str
    server: str  # how Label Studio was served (studio.workers)
    annotators: int
    tasks: int
    wall_s: float
    attempted: int
    acknowledged: int
    stored: int
    lost: int
    duplicates: int
    over_overlap: int
    next_ms: dict[str, float]
    submit_ms: dict[str, float]
    errors: dict[str, int]
    server_5xx: int
    throughput: float
    db_locked_lines: int


class Budget:
    """The --max-annotations cap, shared by every annotator."""

    def __init__(self, limit: int) -> None:
        self.left, self.lock = limit, threading.Lock()

    def take(self) -> bool:
        with self.lock:
            self.left -= 1
            return self.left >= 0


def free_ports(n: int) -> list[int]:
    """N distinct free loopback ports (held together while chosen, so they differ)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def ingest_polnear(tmp: Path, articles: int) -> Path:
    src = tmp / "articles"
    src.mkdir()
    for path in sorted(ARTICLES.glob("*.txt"))[:articles]:
        shutil.copy(path, src / path.name)
    run_ingest(IngestConfig(input=str(src), output_dir=str(tmp / "ingest"), workers=1, progress="never"))
    return tmp / "ingest"


def log_in(base: str, login: dict[str, str]) -> requests.Session:
    """A browser-like session through the gateway (as tests/labeling/studio/test_gateway.py does)."""
    session = requests.Session()
    session.get(f"{base}/user/login/", timeout=60)
    done = session.post(f"{base}/user/login/", timeout=60, allow_redirects=False,
                        headers={"Referer": f"{base}/user/login/"},
                        data={"email": login["email"], "password": login["password"],
                              "csrfmiddlewaretoken": session.cookies.get("csrftoken", "")})
    if done.status_code != 302 or "sessionid" not in session.cookies:
        raise RuntimeError(f"login of {login['email']} failed: {done.status_code} {done.text[:200]}")
    session.headers["X-CSRFToken"] = session.cookies.get("csrftoken", "")
    session.headers["Referer"] = f"{base}/"
    return session


def timed_post(session: requests.Session, url: str, body: dict[str, Any], kind: str,
               log: UserLog) -> requests.Response | None:
    """POST, recording its latency and status under `kind` ("next" | "submit"); None (after a
    short pause: a refused connection fails at once, do not spin) when no answer came."""
    t0 = time.perf_counter()
    try:
        answer = session.post(url, json=body, timeout=120)
    except requests.RequestException:
        log.statuses[f"{kind} error"] += 1
        time.sleep(0.5)
        return None
    (log.next_s if kind == "next" else log.submit_s).append(time.perf_counter() - t0)
    log.statuses[f"{kind} {answer.status_code}"] += 1
    return answer


def annotate(session: requests.Session, base: str, project: int, *, labels: tuple[str, ...], deadline: float,
             budget: Budget, seed: int, log: UserLog, think: float = 0.0) -> None:
    """One annotator's loop: next task, then (after `think` seconds on average of reading, 0 by
    default: as fast as the server answers) an answer or a skip, until done, time or cap."""
    rng = random.Random(seed)
    while time.monotonic() < deadline:
        nxt = timed_post(session, f"{base}/api/dm/actions?id=next_task&project={project}", {}, "next", log)
        if nxt is None:
            continue
        if nxt.status_code == 404:  # the label stream has nothing left for this user
            return
        if not nxt.ok:
            time.sleep(0.5)
            continue
        if not budget.take():
            return
        task = int(nxt.json()["id"])
        if think:
            time.sleep(think * rng.uniform(0.5, 1.5))
        lead_time = round(rng.uniform(2.0, 20.0), 2)
        if rng.random() < SKIP_RATE:
            body: dict[str, Any] = {"result": [], "was_cancelled": True, "lead_time": lead_time}
        else:
            body = {"lead_time": lead_time, "result": [{"from_name": "label", "to_name": "sentence", "type": "choices",
                                                        "value": {"choices": [rng.choice(labels)]}}]}
        log.attempted += 1
        made = timed_post(session, f"{base}/api/tasks/{task}/annotations?project={project}", body, "submit", log)
        if made is not None and made.ok:
            log.acknowledged[int(made.json()["id"])] = task


def percentiles(seconds: list[float]) -> dict[str, float]:
    if not seconds:
        return {"p50": float("nan"), "p95": float("nan"), "p99": float("nan"), "max": float("nan")}
    cuts = statistics.quantiles(seconds, n=100, method="inclusive") if len(seconds) > 1 else [seconds[0]] * 99
    return {"p50": cuts[49] * 1000, "p95": cuts[94] * 1000, "p99": cuts[98] * 1000, "max": max(seconds) * 1000}


def run_campaign(database: Database, ingest: Path, args: argparse.Namespace) -> Figures:
    base_dir = Path(tempfile.mkdtemp(prefix=f"srcrel-load-{database}-"))
    base_dir.chmod(0o711)  # as root, PostgreSQL runs as the postgres account and must reach its cluster
    port, public_port, database_port = free_ports(3)
    workers = args.workers if database == Database.postgresql else 1  # SQLite takes one writer process
    settings = StudioSettings(port=port, public_port=public_port, data_dir=str(base_dir / "studio"),
                              executable=str(STUDIO_EXECUTABLE), database=database, database_port=database_port,
                              workers=workers)
    emails = [f"load-{n:03d}@example.com" for n in range(args.annotators)]
    try:
        print(f"[{database}] starting Label Studio + gateway ...", flush=True)
        start_server(settings)
        cfg = compose_stage_config("push", [
            f"input={ingest}", f"project.name={PROJECT}", f"project.maximum_annotations={OVERLAP}",
            f"annotators=[{','.join(emails)}]", f"state_dir={base_dir / 'push'}",
            f"guidelines={ROOT / 'docs' / 'guidelines.md'}", "progress=never"])
        pushed = push_tasks(dataclasses.replace(to_dataclass(cfg, PushConfig), studio=settings))
        logins = [json.loads(path.read_text(encoding="utf-8")) for path in pushed.annotator_files]
        base = gateway_url(settings)
        print(f"[{database}] {pushed.imported} tasks pushed; {len(logins)} annotators log in through {base} ...",
              flush=True)
        sessions = [log_in(base, login) for login in logins]
        labels, budget = load_label_set("default").names, Budget(args.max_annotations)
        logs = [UserLog() for _ in sessions]
        start = time.monotonic()
        threads = [threading.Thread(target=annotate, args=(s, base, pushed.project_id), kwargs={
            "labels": labels, "deadline": start + args.seconds, "budget": budget, "seed": n, "log": log,
            "think": args.think})
            for n, (s, log) in enumerate(zip(sessions, logs, strict=True))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.monotonic() - start
        print(f"[{database}] done in {wall:.1f} s; pulling the export ...", flush=True)
        pulled = pull_export(PullConfig(project=ProjectSettings(name=PROJECT), output_dir=str(base_dir / "exports"),
                                        studio=settings))
        export = json.loads(pulled.export_path.read_text(encoding="utf-8"))
        server_log = Path(settings.data_dir) / "server.log"
        locked = server_log.read_text(errors="replace").count("database is locked") if server_log.is_file() else 0
    finally:
        stop_server(settings)
        shutil.rmtree(base_dir, ignore_errors=True)
    return summarize(database, logs, export, tasks=pushed.imported, wall=wall, locked=locked, workers=workers)


def summarize(database: Database, logs: list[UserLog], export: list[dict[str, Any]], *, tasks: int, wall: float,
              locked: int, workers: int) -> Figures:
    stored: dict[int, tuple[int, int, bool]] = {}  # annotation id -> (user id, task id, cancelled)
    for task in export:
        for ann in task.get("annotations", []):
            user = ann["completed_by"]["id"] if isinstance(ann["completed_by"], dict) else ann["completed_by"]
            stored[int(ann["id"])] = (int(user), int(task["id"]), bool(ann.get("was_cancelled")))
    pairs = Counter((user, task) for user, task, _ in stored.values())
    answers = Counter(task for _, task, cancelled in stored.values() if not cancelled)
    acknowledged = {ann_id for log in logs for ann_id in log.acknowledged}
    statuses = sum((log.statuses for log in logs), Counter[str]())
    errors = {k: v for k, v in sorted(statuses.items()) if not (k.split()[1].startswith("2") or k == "next 404")}
    return Figures(
        database=str(database), server="label-studio start" if workers == 1 else f"gunicorn x{workers}",
        annotators=len(logs), tasks=tasks, wall_s=round(wall, 1),
        attempted=sum(log.attempted for log in logs), acknowledged=len(acknowledged), stored=len(stored),
        lost=len(acknowledged - stored.keys()), duplicates=sum(1 for n in pairs.values() if n > 1),
        over_overlap=sum(1 for n in answers.values() if n > OVERLAP),
        next_ms=percentiles([s for log in logs for s in log.next_s]),
        submit_ms=percentiles([s for log in logs for s in log.submit_s]),
        errors=errors, server_5xx=sum(v for k, v in errors.items() if k.split()[1].startswith("5")),
        throughput=len(acknowledged) / wall if wall else 0.0, db_locked_lines=locked)


def print_table(runs: list[Figures]) -> None:
    def row(name: str, cell: Any) -> None:
        print(f"{name:<30}" + "".join(f"{cell(f):>18}" for f in runs))

    row("", lambda f: {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[f.database])
    row("Label Studio served by", lambda f: f.server)
    row("annotators / tasks", lambda f: f"{f.annotators} / {f.tasks}")
    row("wall time (s)", lambda f: f"{f.wall_s:.1f}")
    for name, attr in (("attempted", "attempted"), ("acknowledged (2xx)", "acknowledged"), ("stored (in pull)", "stored"),
                       ("lost", "lost"), ("duplicates (user, task)", "duplicates"),
                       (f"tasks over the overlap (> {OVERLAP})", "over_overlap")):
        row(name, lambda f, a=attr: getattr(f, a))
    for kind in ("next", "submit"):
        for q in ("p50", "p95", "p99", "max"):
            row(f"{kind} {q} (ms)", lambda f, k=kind, q=q: f"{getattr(f, f'{k}_ms')[q]:.0f}")
    row("errors (non-2xx)", lambda f: sum(f.errors.values()))
    for key in sorted({k for f in runs for k in f.errors}):
        row(f"  {key}", lambda f, k=key: f.errors.get(k, 0))
    row("5xx", lambda f: f.server_5xx)
    row("throughput (acknowledged/s)", lambda f: f"{f.throughput:.2f}")
    row("'database is locked' lines", lambda f: f.db_locked_lines)


def print_verdict(sqlite: Figures, pg: Figures) -> None:
    ratio = pg.throughput / sqlite.throughput if sqlite.throughput else float("nan")
    checks = [(f"lost {pg.lost}", "0", pg.lost == 0), (f"5xx {pg.server_5xx}", "0", pg.server_5xx == 0),
              (f"submit p95 {pg.submit_ms['p95'] / 1000:.2f} s", "< 1 s", pg.submit_ms["p95"] < 1000),
              (f"throughput {ratio:.2f}x SQLite", ">= 2x", ratio >= 2)]
    print(f"\nPostgreSQL / SQLite throughput: {ratio:.2f}x")
    print(f"targets (issue: 20 annotators on PostgreSQL; this run: {pg.annotators}):")
    for got, target, ok in checks:
        print(f"  {got:<32} target {target:<8} {'ok' if ok else 'MISSED'}")
    print(REFERENCE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--annotators", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0, help="per database")
    parser.add_argument("--max-annotations", type=int, default=10_000, help="per database, all annotators")
    parser.add_argument("--articles", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2,
                        help="studio.workers of the PostgreSQL run (gunicorn processes; 1: label-studio start)")
    parser.add_argument("--think", type=float, default=0.0,
                        help="mean seconds an annotator reads before answering (0: no pause, the issue's load)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if not ARTICLES.is_dir():
        sys.exit(f"skipped: needs {ARTICLES} (real third-party data, not in the repository)")
    if not STUDIO_EXECUTABLE.is_file():
        sys.exit(f"{STUDIO_EXECUTABLE} missing: run `make` to create .venv-studio")
    for var in ("LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY", "POSTGRE_HOST"):
        os.environ.pop(var, None)  # the managed servers, not a developer's own
    with tempfile.TemporaryDirectory(prefix="srcrel-load-corpus-") as tmp:
        ingest = ingest_polnear(Path(tmp), args.articles)
        runs = [run_campaign(database, ingest, args) for database in (Database.sqlite, Database.postgresql)]
    print()
    print_table(runs)
    print_verdict(*runs)
    if args.json:
        args.json.write_text(json.dumps([dataclasses.asdict(f) for f in runs], indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
