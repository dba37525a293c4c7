"""Push 100k tasks into a fresh project with `srcrel push`, beside one raw SDK bulk import of the
same tasks, then push the same 100k again (it must import nothing, in seconds).

    python benchmarks/push_benchmark.py [--tasks 100000] [--chunk-size 10000]

Reference (issue 3): srcrel's rate >= 0.8x the raw SDK rate, while idempotent. Starts its own
Label Studio (.venv-studio) in a temporary data dir on a free port and stops it after.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import statistics
import tempfile
import time
from pathlib import Path

from labeling.studio import api
from labeling.studio.config import ControlSettings, ProjectSettings, PushConfig, StudioSettings
from labeling.studio.connection import resolve_connection
from labeling.studio.interface import build_label_config
from labeling.studio.push import push_tasks
from labeling.studio.server import start_server, stop_server
from srcrel_core.labelset import load_label_set

REPO = Path(__file__).resolve().parents[1]

WORDS = ["the", "minister", "said", "on", "Tuesday", "that", "government", "officials", "would", "review", "reported", "figures", "according", "to", "a", "spokesperson", "for", "agency", "police", "claimed", "critics", "argue", "this", "is", "unacceptable", "sources", "close", "to", "talks", "confirmed", "analysts", "expect", "growth"]


def write_ingest_dir(path: Path, n: int) -> Path:
    rng = random.Random(0)
    path.mkdir(parents=True, exist_ok=True)
    sentences = [" ".join(rng.choices(WORDS, k=rng.randint(12, 30))).capitalize() + "." for _ in range(n)]
    tasks = [{"data": {"sentence_id": f"b{i:07d}", "article_id": f"a{i // 25}", "index": i % 25,
                       "sentence": s, "prev_sentence": sentences[i - 1] if i % 25 else "",
                       "next_sentence": sentences[i + 1] if (i + 1) % 25 and i + 1 < n else "",
                       "title": f"Article {i // 25}", "lang": "en"}} for i, s in enumerate(sentences)]
    (path / "tasks.json").write_text(json.dumps(tasks), encoding="utf-8")
    (path / "sentences.jsonl").write_text("", encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--chunk-size", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=2, help="alternating runs of each; medians shown")
    args = parser.parse_args()
    raw_times: list[float] = []
    push_times: list[float] = []
    again_times: list[float] = []
    with tempfile.TemporaryDirectory(prefix="srcrel-bench-") as tmp_name:
        tmp = Path(tmp_name)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        settings = StudioSettings(port=port, data_dir=str(tmp / "studio"),
                                  executable=str(REPO / ".venv-studio/bin/label-studio"))
        src = write_ingest_dir(tmp / "ingest", args.tasks)
        guidelines = tmp / "guidelines.md"
        guidelines.write_text("# Benchmark guidelines\n")
        label_config = build_label_config(load_label_set("default"))
        print(f"starting Label Studio on port {port} ...", flush=True)
        start_server(settings)
        try:
            client = api.connect(resolve_connection(settings), timeout=3600)
            for run in range(args.repeat):
                raw_tasks = json.loads((src / "tasks.json").read_text())
                project = api.ensure_project(client, f"bench-raw-{run}", label_config=label_config,
                                                instructions="", description="", maximum_annotations=1,
                                                show_skip_button=True)
                t0 = time.perf_counter()
                ids = api.import_tasks(client, project.id, raw_tasks, timeout=3600)
                raw_times.append(time.perf_counter() - t0)
                assert len(ids) == args.tasks

                config = PushConfig(input=str(src), project=ProjectSettings(name=f"bench-srcrel-{run}"),
                                    guidelines=str(guidelines), controls=ControlSettings(),
                                    chunk_size=args.chunk_size, state_dir=str(tmp / "state"),
                                    progress="never", studio=settings)
                t0 = time.perf_counter()
                first = push_tasks(config)
                push_times.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                second = push_tasks(config)
                again_times.append(time.perf_counter() - t0)
                held = api.count_tasks(client, first.project_id)
                assert (first.imported, second.imported, held) == (args.tasks, 0, args.tasks)
                print(f"  run {run + 1}: raw {raw_times[-1]:.1f} s, srcrel push {push_times[-1]:.1f} s, "
                      f"again {again_times[-1]:.1f} s", flush=True)
        finally:
            stop_server(settings)
    raw_s, push_s, again_s = (statistics.median(t) for t in (raw_times, push_times, again_times))
    raw_rate, push_rate = args.tasks / raw_s, args.tasks / push_s
    print(f"raw SDK bulk import (1 request) : {args.tasks} tasks in {raw_s:6.1f} s = {raw_rate:7.0f} tasks/s")
    print(f"srcrel push (chunks of {args.chunk_size})   : {args.tasks} tasks in {push_s:6.1f} s = "
          f"{push_rate:7.0f} tasks/s  -> {push_rate / raw_rate:.2f}x raw (target >= 0.80x)")
    print(f"srcrel push again               : 0 imported in {again_s:6.1f} s "
          f"(target: nothing, in seconds); each project holds {args.tasks} tasks")


if __name__ == "__main__":
    main()
