"""Apply a selection rule (configs/rule/<rule>.yaml) to each CheckThat language.

    python benchmarks/checkthat_select.py [--langs en,it,de,bg,ar] [--rule checkthat]

A thin loop over `srcrel select rule=RULE dataset=<language folder>` for every language.

`checkthat` (pre-declared): stratified k-fold CV on train + dev pooled. `checkthat_dev` (a
robustness check written after the first rule's dev_test scores were seen): the same candidates,
fit on train, scored on dev. dev_test is never read. Prints every candidate's score and the
chosen one, whose overrides go into configs/experiment/checkthat_<lang>.yaml.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from training.data import load_data
from training.select import compose_candidates, load_selection_rule, select

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
    how = (f"{rule.folds}-fold CV on train + dev" if rule.protocol == "cv"
           else "fit on train, macro-F1 on dev")
    for lang in args.langs.split(","):
        started = time.perf_counter()
        folder = DATA / LANGS[lang]
        configs = compose_candidates(rule, [f"dataset={folder}", "label_set=checkthat"])
        table = select(load_data(str(folder), labels="checkthat"), configs, rule)
        print(f"== {lang}: {how} ({time.perf_counter() - started:.0f}s)")
        for r in table.itertuples():
            mark = "*" if r.chosen else " "
            spread = f" ±{r.cv_std:.3f}" if rule.protocol == "cv" else ""
            print(f" {mark} {r.score:.3f}{spread}  {' '.join(rule.candidates[r.candidate])}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
