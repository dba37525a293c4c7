"""Benchmark `srcrel build` on a synthetic export of ~1M annotations (300k sentences x ~3.3).

    python benchmarks/build_benchmark.py [--sentences 300000] [--bootstrap-n 50] [--workdir DIR]

Each path runs in a fresh process that reports its own wall time and peak RSS:
  srcrel  - labeling.build.run_build (ijson stream -> agreement -> aggregation -> dataset, card)
  naive   - json.load + pandas (json_normalize, groupby majority, Dataset.from_pandas)
Targets from issue 4: <= 60 s and <= 2 GB peak RSS for the srcrel path.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson

REPO = Path(__file__).resolve().parents[1]
LABELS = ("sourced", "opinion", "unverifiable")
TARGET_SECONDS, TARGET_RSS_MB = 60.0, 2048.0
_CUES = {0: ["said", "according", "told", "spokesman", "statement"],
         1: ["disgrace", "absurd", "frankly", "terrible", "shameful"],
         2: ["was", "were", "crossed", "cost", "closed"]}


def write_export(path: Path, *, n_sentences: int, n_workers: int = 12, per_article: int = 25,
                 seed: int = 0) -> int:
    """Synthetic Label Studio snapshot: 3 answers per sentence, a 4th on a third of them."""
    rng = np.random.default_rng(seed)
    vocab = np.array([f"w{i}" for i in range(20_000)], dtype=object)
    truth = rng.choice(3, size=n_sentences, p=[0.45, 0.3, 0.25])
    lengths = rng.integers(12, 30, size=n_sentences)
    words = rng.zipf(1.3, size=int(lengths.sum())) % len(vocab)
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    confusion = np.array([[0.85, 0.1, 0.05], [0.1, 0.8, 0.1], [0.1, 0.15, 0.75]]).cumsum(axis=1)
    n_answers = np.where(rng.random(n_sentences) < 1 / 3, 4, 3)
    ann_id = 0
    with path.open("wb") as out:
        out.write(b"[")
        texts = [" ".join([*vocab[words[bounds[i]:bounds[i + 1]]], _CUES[truth[i]][i % 5]])
                 for i in range(n_sentences)]
        for i in range(n_sentences):
            article, index = divmod(i, per_article)
            workers = rng.choice(n_workers, size=n_answers[i], replace=False)
            given = (rng.random(n_answers[i])[:, None] > confusion[truth[i]]).sum(axis=1)
            annotations = []
            for worker, label in zip(workers, given):
                ann_id += 1
                annotations.append({
                    "id": ann_id, "completed_by": {"id": int(worker) + 1, "email": f"a{worker}@x.org"},
                    "result": [{"id": "r", "type": "choices", "from_name": "label",
                                "to_name": "sentence", "origin": "manual",
                                "value": {"choices": [LABELS[min(label, 2)]]}}],
                    "was_cancelled": False, "ground_truth": False,
                    "lead_time": float(rng.gamma(2.0, 4.0)),
                    "created_at": "2026-01-01T10:00:00.000000Z",
                    "updated_at": "2026-01-01T10:00:00.000000Z", "prediction": {},
                    "unique_id": f"u{ann_id}", "updated_by": int(worker) + 1})
            task = {"id": i + 1, "data": {
                "sentence_id": f"a{article:06d}-{index:03d}", "article_id": f"a{article:06d}",
                "index": index, "sentence": texts[i],
                "prev_sentence": texts[i - 1] if index else "",
                "next_sentence": texts[i + 1] if index + 1 < per_article and i + 1 < n_sentences else "",
                "title": f"Article {article}", "lang": "en", "guidelines_version": "0123456789ab",
                "srcrel_batch": "bench"},
                "annotations": annotations, "predictions": [], "drafts": [], "meta": {},
                "total_annotations": len(annotations), "cancelled_annotations": 0,
                "inner_id": i + 1, "project": 1}
            out.write((b"," if i else b"") + orjson.dumps(task) + b"\n")
        out.write(b"]")
    return ann_id


_SRCREL = """
import json, resource, sys, time
t0 = time.perf_counter()
from labeling.build import run_build
from labeling.config import BuildConfig, AggregationConfig, AgreementConfig, LabelIssuesConfig
args = json.loads(sys.argv[1])
config = BuildConfig(export=args["export"], output_dir=args["out"],
                     aggregation=AggregationConfig(method=args["method"], n_iter=args["n_iter"]),
                     agreement=AgreementConfig(bootstrap_n=args["bootstrap_n"]),
                     label_issues=LabelIssuesConfig(enabled=args["label_issues"],
                                                    n_splits=args["label_issue_splits"]))
result = run_build(config)
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": time.perf_counter() - t0, "rows": result.rows,
                  "cpu_seconds": usage.ru_utime + usage.ru_stime, "peak_rss_mb": usage.ru_maxrss / 1024,
                  "stages": result.timings}))
"""

_NAIVE = """
import json, resource, sys, time
t0 = time.perf_counter()
import pandas as pd
from datasets import ClassLabel, Dataset
args = json.loads(sys.argv[1])
with open(args["export"]) as f:
    tasks = json.load(f)
long = pd.json_normalize(tasks, record_path="annotations", meta=[["data", "sentence_id"]])
long["label"] = long["result"].map(lambda r: r[0]["value"]["choices"][0] if r else None)
long = long.rename(columns={"data.sentence_id": "task", "completed_by.id": "worker"})
votes = long.groupby("task")["label"].agg(lambda s: s.value_counts().index[0])
data = pd.json_normalize(tasks)[["data.sentence_id", "data.article_id", "data.sentence"]]
data.columns = ["sentence_id", "article_id", "text"]
data["label"] = data["sentence_id"].map(votes)
ds = Dataset.from_pandas(data, preserve_index=False).cast_column(
    "label", ClassLabel(names=["sourced", "opinion", "unverifiable"]))
ds.save_to_disk(args["out"])
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": time.perf_counter() - t0, "rows": len(ds),
                  "cpu_seconds": usage.ru_utime + usage.ru_stime, "peak_rss_mb": usage.ru_maxrss / 1024}))
"""


def _measure(script: str, args: dict[str, object]) -> dict[str, float]:
    proc = subprocess.run([sys.executable, "-c", script, json.dumps(args)], check=False, capture_output=True,
                          text=True, cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=300_000)
    parser.add_argument("--bootstrap-n", type=int, default=50)
    parser.add_argument("--method", default="majority")
    parser.add_argument("--n-iter", type=int, default=20)
    parser.add_argument("--no-label-issues", action="store_true")
    parser.add_argument("--label-issue-splits", type=int, default=5)
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="srcrel-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    export = workdir / f"export-{args.sentences}.json"
    if not export.is_file():
        started = time.perf_counter()
        n = write_export(export, n_sentences=args.sentences)
        print(f"wrote {export} ({export.stat().st_size / 1e6:.0f} MB, {n} annotations) "
              f"in {time.perf_counter() - started:.0f} s")
    run = {"export": str(export), "out": str(workdir / "srcrel-out"), "method": args.method,
           "n_iter": args.n_iter, "bootstrap_n": args.bootstrap_n,
           "label_issues": not args.no_label_issues, "label_issue_splits": args.label_issue_splits}
    print(f"srcrel build ran: aggregation={args.method}"
          + (f" (n_iter={args.n_iter})" if args.method != "majority" else "")
          + f", bootstrap_n={args.bootstrap_n}, label_issues="
          + (f"on ({args.label_issue_splits} folds)" if run["label_issues"] else "off")
          + ", plots on")
    results = {"srcrel build": _measure(_SRCREL, run)}
    print(f"srcrel build: {results['srcrel build']['seconds']:.1f} s", flush=True)
    if not args.skip_naive:
        results["naive json.load + pandas"] = _measure(_NAIVE, {**run, "out": str(workdir / "naive-out")})
    print(f"{'path':<26} {'wall s':>8} {'CPU s':>8} {'peak RSS MB':>12} {'rows':>8}")
    for name, r in results.items():
        print(f"{name:<26} {r['seconds']:>8.1f} {r['cpu_seconds']:>8.1f} {r['peak_rss_mb']:>12.0f} "
              f"{r['rows']:>8}")
    print(f"{'target (issue 4)':<26} {TARGET_SECONDS:>8.1f} {'':>8} {TARGET_RSS_MB:>12.0f}")
    print(f"load average while running: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
          "(other processes inflate wall time; CPU s is this process alone)")
    stages = results["srcrel build"].get("stages", {})
    print("srcrel stages (s): " + ", ".join(f"{k} {v:.1f}" for k, v in stages.items()))


if __name__ == "__main__":
    main()
