"""One annotator with a script against the gateway while ten others label: does anyone notice?

    python benchmarks/gateway_abuse.py [--annotators 10] [--seconds 60] [--slow 50] [--think 2]
                                       [--database postgresql] [--json PATH]

The same campaign (real PolNeAR sentences, overlap 3, studio.workers=2 on PostgreSQL) runs twice
on one server: quiet, then under attack. The attacker is an annotator of the project, logged in
through the gateway, who holds `--slow` connections each sending a submit's body a few bytes at a
time (reopened as the gateway drops them), and sends 10 MB bodies in a loop (with and without a
declared length) to the submit, draft and login calls. Meanwhile the annotators loop next task ->
read (`--think` s on average) -> submit, as in benchmarks/annotator_load.py.

Issue 19's targets: the annotators' submit p95 under 1 s and the gateway's peak memory under
200 MB while attacked (before: one stalled submit held another annotator's for 20-76 s; a 200 MB
login body took the gateway from 45 to 455 MB). Printed side by side: quiet, attacked, target.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psutil
import requests
from annotator_load import (  # the same annotators as the load benchmark
    ARTICLES,
    OVERLAP,
    STUDIO_EXECUTABLE,
    Budget,
    UserLog,
    annotate,
    free_ports,
    ingest_polnear,
    log_in,
    percentiles,
)

from labeling.studio.config import Database, PushConfig, StudioSettings
from labeling.studio.connection import gateway_url
from labeling.studio.push import push_tasks
from labeling.studio.server import gateway_pid, start_server, stop_server
from srcrel.cli import compose_stage_config
from srcrel_core.labelset import load_label_set
from srcrel_core.settings import to_dataclass

ROOT = Path(__file__).resolve().parent.parent
ATTACKER = "attacker@example.com"
BIG = 10 * 2**20


class Attack:
    """The scripted annotator's threads, and what the gateway answered them."""

    def __init__(self, base: str, project: int, session: requests.Session, slow: int) -> None:
        self.base, self.project, self.session, self.slow = base, project, session, slow
        self.host, port = base.removeprefix("http://").split(":")
        self.port = int(port)
        self.stop = threading.Event()
        self.answers: Counter[str] = Counter()
        self.lock = threading.Lock()

    def _count(self, what: str) -> None:
        with self.lock:
            self.answers[what] += 1

    def _cookie(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.session.cookies.items())

    def slow_body(self, n: int) -> None:
        """A submit whose body never finishes: 6 of 1000 bytes, then a byte a second."""
        task = 1 + n % 50
        while not self.stop.is_set():
            try:
                sock = socket.create_connection((self.host, self.port), timeout=30)
                sock.sendall((f"POST /api/tasks/{task}/annotations?project={self.project} HTTP/1.1\r\n"
                              f"Host: {self.host}\r\nCookie: {self._cookie()}\r\nX-CSRFToken: "
                              f"{self.session.headers.get('X-CSRFToken', '')}\r\nContent-Type: application/json\r\n"
                              "Content-Length: 1000\r\n\r\n{\"resu").encode())
                sock.settimeout(1.0)
                while not self.stop.is_set():
                    try:
                        reply = sock.recv(64)
                    except TimeoutError:
                        sock.sendall(b" ")
                        continue
                    self._count("slow: " + (reply.split(b"\r\n")[0].decode("latin-1") or "closed"))
                    break
                sock.close()
            except OSError as exc:
                self._count(f"slow: {type(exc).__name__}")
                time.sleep(0.2)

    def big_bodies(self) -> None:
        """10 MB to the submit, draft and login calls, declared and chunked, over and over."""
        chunk = b"x" * 2**20
        targets = [f"/api/tasks/1/annotations?project={self.project}", f"/api/tasks/1/drafts?project={self.project}",
                   "/user/login/"]
        n = 0
        while not self.stop.is_set():
            path = targets[n % len(targets)]
            declared = n % 2 == 0
            body: Any = chunk * 10 if declared else (chunk for _ in range(10))
            try:
                answer = self.session.post(self.base + path, data=body, timeout=60,
                                           headers={"Content-Type": "application/json"})
                self._count(f"10 MB ({'declared' if declared else 'chunked'}): {answer.status_code}")
            except requests.RequestException as exc:
                self._count(f"10 MB ({'declared' if declared else 'chunked'}): {type(exc).__name__}")
            n += 1

    def threads(self) -> list[threading.Thread]:
        return [threading.Thread(target=self.slow_body, args=(n,), daemon=True) for n in range(self.slow)] + \
            [threading.Thread(target=self.big_bodies, daemon=True)]


def watch_memory(pid: int, stop: threading.Event, peak: list[float]) -> None:
    """The gateway's resident memory (its processes together), sampled every 0.1 s."""
    gateway = psutil.Process(pid)
    while not stop.is_set():
        try:
            procs = [gateway, *gateway.children(recursive=True)]
            peak[0] = max(peak[0], sum(p.memory_info().rss for p in procs) / 2**20)
        except psutil.Error:
            pass
        time.sleep(0.1)


def label(settings: StudioSettings, project: int, logins: list[dict[str, str]], args: argparse.Namespace,
          attacker: dict[str, str] | None) -> dict[str, Any]:
    base = gateway_url(settings)
    sessions = [log_in(base, login) for login in logins]
    logs = [UserLog() for _ in sessions]
    stop, peak = threading.Event(), [0.0]
    pid = gateway_pid(settings)
    assert pid is not None
    watcher = threading.Thread(target=watch_memory, args=(pid, stop, peak), daemon=True)
    watcher.start()
    attack = Attack(base, project, log_in(base, attacker), args.slow) if attacker else None
    extra = attack.threads() if attack else []
    for thread in extra:
        thread.start()
    time.sleep(2.0 if attack else 0.0)  # the attack is under way before anyone labels
    start = time.monotonic()
    labels = load_label_set("default").names
    workers = [threading.Thread(target=annotate, args=(s, base, project), kwargs={
        "labels": labels, "deadline": start + args.seconds, "budget": Budget(10**6), "seed": n + (1000 if attack else 0),
        "log": log, "think": args.think}) for n, (s, log) in enumerate(zip(sessions, logs, strict=True))]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    if attack:
        attack.stop.set()
    stop.set()
    statuses = sum((log.statuses for log in logs), Counter[str]())
    return {"submit_ms": percentiles([s for log in logs for s in log.submit_s]),
            "next_ms": percentiles([s for log in logs for s in log.next_s]),
            "answers": sum(len(log.acknowledged) for log in logs),
            "errors": {k: v for k, v in statuses.items() if not k.split()[1].startswith("2") and k != "next 404"},
            "peak_mb": round(peak[0], 1), "attack": dict(sorted(attack.answers.items())) if attack else {}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--annotators", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60.0, help="of labelling, quiet and attacked each")
    parser.add_argument("--slow", type=int, default=50, help="slow connections the attacker holds")
    parser.add_argument("--think", type=float, default=2.0, help="mean seconds an annotator reads a sentence")
    parser.add_argument("--database", default="postgresql", choices=["sqlite", "postgresql"])
    parser.add_argument("--articles", type=int, default=40)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not ARTICLES.is_dir():
        sys.exit(f"skipped: needs {ARTICLES} (real third-party data, not in the repository)")
    for var in ("LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY", "POSTGRE_HOST"):
        os.environ.pop(var, None)
    database = Database(args.database)
    tmp = Path(tempfile.mkdtemp(prefix="srcrel-abuse-"))
    tmp.chmod(0o711)  # as root, PostgreSQL runs as the postgres account and must reach its cluster
    port, public_port, database_port = free_ports(3)
    settings = StudioSettings(port=port, public_port=public_port, data_dir=str(tmp / "studio"),
                              executable=str(STUDIO_EXECUTABLE), database=database, database_port=database_port,
                              workers=2 if database == Database.postgresql else 1)
    emails = [f"abuse-{n:03d}@example.com" for n in range(args.annotators)]
    try:
        ingest = ingest_polnear(tmp, args.articles)
        print(f"[{database}] starting Label Studio + gateway ...", flush=True)
        start_server(settings)
        runs = {}
        for phase in ("quiet", "attacked"):
            cfg = compose_stage_config("push", [
                f"input={ingest}", f"project.name=abuse-{phase}", f"project.maximum_annotations={OVERLAP}",
                f"annotators=[{','.join([*emails, ATTACKER])}]", f"state_dir={tmp / 'push'}",
                f"guidelines={ROOT / 'docs' / 'guidelines.md'}", "progress=never"])
            pushed = push_tasks(dataclasses.replace(to_dataclass(cfg, PushConfig), studio=settings))
            files = {json.loads(p.read_text())["email"]: json.loads(p.read_text()) for p in pushed.annotator_files}
            print(f"[{phase}] {args.annotators} annotators label for {args.seconds:.0f} s"
                  + (f" while {ATTACKER} holds {args.slow} slow connections and sends 10 MB bodies" if
                     phase == "attacked" else ""), flush=True)
            runs[phase] = label(settings, pushed.project_id, [files[e] for e in emails], args,
                                files[ATTACKER] if phase == "attacked" else None)
    finally:
        stop_server(settings)
        shutil.rmtree(tmp, ignore_errors=True)
    quiet, attacked = runs["quiet"], runs["attacked"]
    print(f"\n{'':<34}{'quiet':>12}{'attacked':>12}   target (issue 19)")
    for q in ("p50", "p95", "max"):
        print(f"{'submit ' + q + ' (ms)':<34}{quiet['submit_ms'][q]:>12.0f}{attacked['submit_ms'][q]:>12.0f}"
              + ("   < 1000" if q == "p95" else ""))
        print(f"{'next ' + q + ' (ms)':<34}{quiet['next_ms'][q]:>12.0f}{attacked['next_ms'][q]:>12.0f}")
    print(f"{'answers stored':<34}{quiet['answers']:>12}{attacked['answers']:>12}")
    print(f"{'annotators: errors (non-2xx)':<34}{sum(quiet['errors'].values()):>12}{sum(attacked['errors'].values()):>12}")
    print(f"{'gateway peak memory (MB)':<34}{quiet['peak_mb']:>12.1f}{attacked['peak_mb']:>12.1f}   < 200")
    print("what the attacker got back:")
    for what, n in attacked["attack"].items():
        print(f"  {what:<50}{n:>8}")
    ok = attacked["submit_ms"]["p95"] < 1000 and attacked["peak_mb"] < 200
    print(f"\ntargets: submit p95 {attacked['submit_ms']['p95'] / 1000:.2f} s, peak {attacked['peak_mb']:.0f} MB: "
          f"{'met' if ok else 'MISSED'}")
    print("before (issue 19): a stalled submit held another annotator's for 20 s, then 76 s; a 200 MB login "
          "body took the gateway from 45 MB to 455 MB")
    if args.json:
        args.json.write_text(json.dumps(runs, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
