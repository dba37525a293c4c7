"""`srcrel backend` /predict latency: a TF-IDF + logistic regression baseline (the backend's
default, configs/model/tfidf_logreg.yaml) fitted on real PolNeAR sentences, served by the backend
app in this process (uvicorn on 127.0.0.1, the same server `srcrel backend` runs), and POST
/predict with 100 unseen dev sentences as Label Studio sends them, repeated.

    python benchmarks/backend_predict.py [--train 5000] [--tasks 100] [--repeats 20] [--json PATH]
                                         [--data PATH]

Issue target: 100 tasks in under a second. PolNeAR's three attribution labels are mapped onto
srcrel's default label set (SOURCE_IN_SENTENCE -> sourced, ATTRIBUTED_NO_SOURCE_IN_SENTENCE ->
unverifiable, NONE -> opinion) only so the served labels are srcrel's; the timing does not depend
on it. Needs ../shared/data/polnear/sentences_train_dev.tsv.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import requests

from labeling.studio.config import ProjectSettings
from srcrel.backend.config import BackendConfig
from srcrel.backend.run import build_backend, serve_in_thread
from srcrel.backend.store import Served
from srcrel.loop.learner import fit_baseline, model_version
from srcrel_core.labelset import load_label_set

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "polnear" / "sentences_train_dev.tsv"
LABELS = {"SOURCE_IN_SENTENCE": "sourced", "ATTRIBUTED_NO_SOURCE_IN_SENTENCE": "unverifiable", "NONE": "opinion"}
TARGET_S = 1.0


def load(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path, sep="\t", quoting=3, dtype=str, keep_default_na=False)
    raw = raw.drop_duplicates(["article", "sent_idx"]).copy()  # one row per sentence (first annotator)
    raw["sent_idx"] = raw["sent_idx"].astype(int)
    raw = raw.sort_values(["article", "sent_idx"])
    by_article = raw.groupby("article")["sentence"]
    return pd.DataFrame({
        "compartment": raw["compartment"].to_numpy(), "article_id": raw["article"].to_numpy(),
        "text": raw["sentence"].to_numpy(), "prev_text": by_article.shift(1).fillna("").to_numpy(),
        "next_text": by_article.shift(-1).fillna("").to_numpy(), "lang": "en",
        "label": raw["label3"].map(LABELS).to_numpy(),
    }, index=pd.Index([f"{a}-{i}" for a, i in zip(raw["article"], raw["sent_idx"], strict=True)], name="sentence_id"))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=int, default=5000, help="training sentences (PolNeAR train)")
    parser.add_argument("--tasks", type=int, default=100, help="tasks per /predict request")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--data", type=Path, default=DATA, help="PolNeAR sentences_train_dev.tsv")
    args = parser.parse_args()
    if not args.data.is_file():
        sys.exit(f"needs {args.data} (real third-party data, not in the repository)")
    frame = load(args.data)
    train = frame[frame["compartment"] == "train"].sample(n=args.train, random_state=0)
    dev = frame[frame["compartment"] == "dev"].sample(n=args.tasks, random_state=0)
    with tempfile.TemporaryDirectory() as tmp:
        config = BackendConfig(project=ProjectSettings(name="benchmark"), port=_free_port(), model_dir=tmp)
        labels = load_label_set(config.label_set).names
        started = time.perf_counter()
        estimator = fit_baseline(train, model=config.model, features=config.features)
        fit_s = time.perf_counter() - started
        backend = build_backend(config)
        backend.serving.swap(Served(model_version(train, round_index=0, model_name=config.model.name), estimator,
                                    labels))
        tasks = [{"id": i, "project": 1, "data": {"sentence_id": sid, "sentence": row.text,
                                                    "prev_sentence": row.prev_text, "next_sentence": row.next_text,
                                                    "lang": "en", "article_id": row.article_id}}
                 for i, (sid, row) in enumerate(dev.iterrows())]
        body = {"tasks": tasks, "project": "1.0", "label_config": "<View/>", "params": {}}
        timings = []
        with serve_in_thread(backend) as url, requests.Session() as session:
            session.post(f"{url}/predict", json=body, timeout=30).raise_for_status()  # warm-up
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                answer = session.post(f"{url}/predict", json=body, timeout=30)
                timings.append(time.perf_counter() - t0)
                answer.raise_for_status()
                assert len(answer.json()["results"]) == args.tasks
    result = {"train_sentences": args.train, "fit_s": round(fit_s, 2), "tasks_per_request": args.tasks,
              "repeats": args.repeats, "p50_s": round(statistics.median(timings), 4),
              "p95_s": round(percentile(timings, 0.95), 4), "max_s": round(max(timings), 4), "target_s": TARGET_S}
    print(f"/predict with {args.tasks} tasks, TF-IDF + logreg fitted on {args.train} PolNeAR sentences "
          f"({fit_s:.1f} s), {args.repeats} requests:")
    print(f"  p50 {result['p50_s'] * 1000:.0f} ms   p95 {result['p95_s'] * 1000:.0f} ms   max "
          f"{result['max_s'] * 1000:.0f} ms   (issue: {args.tasks} tasks in under {TARGET_S:.0f} s: "
          f"{'met' if result['p95_s'] < TARGET_S else 'NOT met'})")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    main()
