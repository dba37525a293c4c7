"""Apply the pre-declared selection rule (configs/selection/checkthat.yaml) to each CheckThat language.

    PYTHONPATH=. python benchmarks/checkthat_select.py [--langs en,it,de,bg,ar] [--rule checkthat]

Stratified k-fold CV on train + dev pooled; dev_test is never read. Prints every candidate's mean
CV macro-F1 and the chosen one, whose overrides go into configs/experiment/checkthat_<lang>.yaml.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from labeling.cli import compose_stage_config
from labeling.config import to_dataclass
from training.config import TrainConfig
from training.data import load_data
from training.select import load_selection_rule, pool_for_selection, select_by_cv

ROOT = Path(__file__).resolve().parents[1]

DATA = ROOT / ".." / "shared" / "data" / "checkthat2025"
LANGS = {"en": "english", "it": "italian", "de": "german", "bg": "bulgarian", "ar": "arabic"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--langs", default=",".join(LANGS))
    parser.add_argument("--rule", default="checkthat")
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"skipped: {DATA} not found (the CheckThat data lives in ../shared beside the repo)")
        return
    rule = load_selection_rule(args.rule)
    for lang in args.langs.split(","):
        started = time.perf_counter()
        folder = DATA / LANGS[lang]
        base = [f"dataset={folder}", "label_set=checkthat", "output_dir=unused"]
        configs = [to_dataclass(compose_stage_config("train", [*base, *c]), TrainConfig)
                   for c in rule.candidates]
        data = load_data(str(folder), labels="checkthat")
        table = select_by_cv(pool_for_selection(data), configs, labels=data.label_names,
                             folds=rule.folds, seed=rule.seed)
        print(f"== {lang}: {rule.folds}-fold CV on train + dev ({time.perf_counter() - started:.0f}s)")
        for r in table.itertuples():
            mark = "*" if r.chosen else " "
            print(f" {mark} {r.cv_mean:.3f} ±{r.cv_std:.3f}  {' '.join(rule.candidates[r.candidate])}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
