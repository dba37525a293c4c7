"""Ingest throughput: >= 1M sentences from the 840 real PolNeAR articles, repeated with distinct ids.

Prints sentences/s and peak RSS (the whole process tree) of `srcrel ingest` beside pysbd alone
on the same text (issue #2: pysbd measured ~5.2k sentences/s on one core here; target 1M
sentences in <= 60 s and <= 1 GB peak RSS on 2 cores, same boundaries as the single-process path).

    .venv/bin/python benchmarks/ingest_benchmark.py [--repeats 35] [--pysbd-articles 840]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
ARTICLES = ROOT.parent / "shared" / "data" / "polnear" / "articles"
PYSBD_REFERENCE = 5_200  # sentences/s, pysbd alone on one core, measured on this kind of machine


def build_corpus(folder: Path, repeats: int) -> int:
    """One JSONL file per repetition; each copy gets its own id and a distinct first line."""
    texts = [p.read_text(encoding="utf-8") for p in sorted(ARTICLES.glob("*.txt"))]
    size = 0
    for r in range(repeats):
        with open(folder / f"polnear_copy{r:03d}.jsonl", "w", encoding="utf-8") as out:
            for i, text in enumerate(texts):
                row = {"id": f"copy{r:03d}-{i:04d}", "text": f"Dispatch {r}-{i}.\n\n{text}", "lang": "en"}
                size += out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return size


def peak_tree_rss(pid: int, stop: threading.Event, peak: list[int]) -> None:
    proc = psutil.Process(pid)
    while not stop.is_set():
        try:
            rss = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
        except psutil.Error:
            rss = 0
        peak[0] = max(peak[0], rss)
        time.sleep(0.05)


def run_ingest_measured(src: Path, out: Path, workers: int) -> tuple[float, int, int]:
    """Run ingest in a fresh process; return seconds, peak tree RSS bytes, sentences."""
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=_ingest_child, args=(str(src), str(out), workers))
    start = time.perf_counter()
    proc.start()
    stop, peak = threading.Event(), [0]
    watcher = threading.Thread(target=peak_tree_rss, args=(proc.pid, stop, peak))
    watcher.start()
    proc.join()
    elapsed = time.perf_counter() - start
    stop.set()
    watcher.join()
    if proc.exitcode != 0:
        sys.exit(f"ingest failed with exit code {proc.exitcode}")
    manifest = json.loads((out / "manifest.json").read_text())
    return elapsed, peak[0], manifest["counts"]["sentences"]


def _ingest_child(src: str, out: str, workers: int) -> None:
    from labeling.ingest.config import IngestConfig
    from labeling.ingest.run import run_ingest

    run_ingest(IngestConfig(input=src, output_dir=out, workers=workers, progress="never"))


def run_pysbd(src: Path, articles: int) -> tuple[float, int]:
    import pysbd

    segmenter = pysbd.Segmenter(language="en", clean=False, char_span=False)
    with open(min(src.glob("*.jsonl")), encoding="utf-8") as first:
        rows = [json.loads(line) for line in first][:articles]
    start = time.perf_counter()
    count = 0
    for row in rows:
        for paragraph in row["text"].split("\n\n"):
            count += len(segmenter.segment(paragraph))
    return time.perf_counter() - start, count


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=35, help="copies of the 840 articles (35 -> ~1.01M sentences)")
    parser.add_argument("--pysbd-articles", type=int, default=840, help="articles pysbd segments (it is slow)")
    parser.add_argument("--skip-single", action="store_true", help="skip the single-process comparison run")
    args = parser.parse_args()
    if not ARTICLES.exists():
        sys.exit(f"needs {ARTICLES} (../shared/data beside the repository)")
    work = Path(tempfile.mkdtemp(prefix="srcrel-bench-"))
    try:
        src = work / "corpus"
        src.mkdir()
        size = build_corpus(src, args.repeats)
        print(f"corpus: {args.repeats} x 840 PolNeAR articles, {size / 1e6:.0f} MB JSONL in {args.repeats} files")
        seconds, rss, sentences = run_ingest_measured(src, work / "parallel", workers=0)
        rate = sentences / seconds
        p_seconds, p_count = run_pysbd(src, args.pysbd_articles)
        print()
        print(f"{'':34}{'srcrel ingest (2 cores)':>26}{'pysbd alone (1 core)':>24}{'reference':>14}")
        print(f"{'sentences':34}{sentences:>26,}{p_count:>24,}")
        print(f"{'seconds':34}{seconds:>26.1f}{p_seconds:>24.1f}{'<= 60 for 1M':>14}")
        print(f"{'sentences/s':34}{rate:>26,.0f}{p_count / p_seconds:>24,.0f}{PYSBD_REFERENCE:>14,}")
        print(f"{'time for 1M sentences (s)':34}{1e6 / rate:>26.1f}{1e6 / (p_count / p_seconds):>24.1f}{'<= 60':>14}")
        print(f"{'peak RSS, process tree (MB)':34}{rss / 2**20:>26.0f}{'':>24}{'<= 1024':>14}")
        print(f"speed-up over pysbd alone: {rate / (p_count / p_seconds):.1f}x")
        if not args.skip_single:
            s_seconds, s_rss, s_sentences = run_ingest_measured(src, work / "single", workers=1)
            same = all(digest(work / "parallel" / f) == digest(work / "single" / f)
                       for f in ("sentences.jsonl", "articles.jsonl", "tasks.json"))
            print(f"single process: {s_seconds:.1f} s, {s_sentences / s_seconds:,.0f} sentences/s, "
                  f"peak {s_rss / 2**20:.0f} MB; outputs identical to the parallel run: {same}")
            if not same:
                sys.exit("parallel and single-process outputs differ")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
