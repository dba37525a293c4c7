"""Issue 20's newcomer: the README's "Your own articles" block, as written, run with a non-editable
install from a folder outside the checkout, on three articles in Latin-1, cp1252 and UTF-16.

Only what a test must change is changed: the install's srcrel for `.venv/bin/srcrel`, the
articles' folder for `path/to/articles` (with the reference labels the simulated annotators need),
the test's Label Studio settings on every command that reaches it, the simulated annotators where
the block says people label, and `studio status` for `studio down` (the server is shared)."""

from __future__ import annotations

import glob
import json
import re
import shlex
from pathlib import Path

import pytest

from labeling.studio.config import StudioSettings
from tests.conftest import REPO_ROOT, run_clean

pytestmark = [pytest.mark.slow, pytest.mark.studio]

ARTICLES = {
    "latin1.txt": ("latin-1", "latin-1", [
        ("Le café crème coûtera deux euros de plus dès lundi, a annoncé la mairie.", "sourced"),
        ("Selon le préfet, le pont de la rivière restera fermé jusqu'à vendredi.", "sourced"),
        ("Cette décision est une erreur que la ville paiera très cher.", "opinion"),
        ("Le marché couvert a été construit en 1978.", "unverifiable"),
        ("On ne peut que s'étonner de la légèreté de la municipalité.", "opinion"),
        ("Des centaines d'habitants ont traversé la place samedi.", "unverifiable"),
    ]),
    "cp1252.txt": ("cp1252", "cp1252", [
        ("« Nous ne lâcherons rien », a déclaré la porte-parole du syndicat.", "sourced"),
        ("Le budget atteint 5 € par habitant, d’après le rapport de la région.", "sourced"),
        ("C’est une honte — rien de moins.", "opinion"),
        ("L’usine emploie trois cents personnes depuis l’an dernier.", "unverifiable"),
        ("Il faudrait enfin que quelqu’un prenne ses responsabilités.", "opinion"),
        ("La grève a duré onze jours en mars.", "unverifiable"),
    ]),
    "utf16.txt": ("utf-16", "utf-16", [
        ("The minister resigned on Tuesday, the palace said.", "sourced"),
        ("According to the police, the road will reopen in May.", "sourced"),
        ("It was a shameful, cowardly decision.", "opinion"),
        ("The new stadium will probably never turn a profit.", "opinion"),
        ("The bridge was built in 1921.", "unverifiable"),
        ("Thousands of people crossed the border last week.", "unverifiable"),
    ]),
}


def _readme_block() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## Your own articles", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    joined = re.sub(r"\\\n\s*", " ", block)  # continuation lines
    return [line.strip() for line in joined.splitlines() if line.strip()]


def _found(arg: str, work: Path) -> str:
    """`export=work/exports/export-my-campaign-<time>.json`: the file pull wrote."""
    if "<time>" not in arg:
        return arg
    key, value = arg.split("=", 1)
    [found] = [f for f in glob.glob(str(work / value.replace("<time>", "*"))) if not f.endswith(".meta.json")]
    return f"{key}={found}"


def test_the_readmes_own_articles_block_works_for_a_newcomer(installed: Path, studio_settings: StudioSettings,
                                                              tmp_path: Path) -> None:
    articles, reference = tmp_path / "my-articles", tmp_path / "reference.jsonl"
    articles.mkdir()
    with reference.open("w", encoding="utf-8") as out:
        for name, (codec, _, sentences) in ARTICLES.items():
            (articles / name).write_bytes(" ".join(s for s, _ in sentences).encode(codec))
            out.writelines(json.dumps({"file": name, "text": s, "label": label}) + "\n" for s, label in sentences)
    work = tmp_path / "newcomer"  # outside the checkout: the README's relative paths land here
    work.mkdir()
    studio = [f"studio.port={studio_settings.port}", f"studio.public_port={studio_settings.public_port}",
              f"studio.data_dir={studio_settings.data_dir}", f"studio.executable={studio_settings.executable}"]
    srcrel = str(installed / "srcrel")
    ran: list[str] = []

    def run(args: list[str]) -> str:
        done = run_clean(args, cwd=work, timeout=900)
        assert done.returncode == 0, (args, done.stdout[-1500:], done.stderr[-3000:])
        ran.append(args[1])
        return done.stdout + done.stderr

    outputs: dict[str, str] = {}
    for line in _readme_block():
        if line.startswith("S="):
            continue
        if line.startswith("#"):
            if "annotators label" in line:  # three simulated annotators label through the gateway
                people = ",".join(f"{{email:ann{i}@example.org,accuracy:{a}}}" for i, a in ((1, 0.9), (2, 0.85), (3, 0.8)))
                run([srcrel, "simulate", "project.name=my-campaign", "reference=work/ingest/reference_labels.jsonl",
                     f"annotators=[{people}]", "progress=never", *studio])
            continue
        words = shlex.split(line.split("  #", 1)[0])
        assert words[0] == "$S", line
        stage, args = words[1], words[2:]
        if stage == "studio" and args == ["down"]:
            args = ["status"]
        args = [a.replace("path/to/articles", str(articles)) for a in args]
        args = [_found(a, work) for a in args]
        if stage == "ingest":
            args.append(f"reference={reference}")
        if stage in ("studio", "push", "pull"):
            args += studio
        outputs[stage] = run([srcrel, stage, *args])
    assert ran == ["ingest", "studio", "push", "simulate", "pull", "build", "train", "report", "studio"]

    manifest = json.loads((work / "work" / "ingest" / "manifest.json").read_text())
    assert {f["path"]: f["encoding"] for f in manifest["files"]} == {n: e for n, (_, e, _) in ARTICLES.items()}
    assert "latin-1: latin1.txt" in " ".join(outputs["ingest"].split())
    texts = (work / "work" / "ingest" / "sentences.jsonl").read_text(encoding="utf-8")
    for _, _, sentences in ARTICLES.values():
        for sentence, _ in sentences:
            assert sentence in texts  # nothing mis-decoded ("crčme") or lost
    report = json.loads((work / "work" / "dataset" / "report.json").read_text())
    assert report["dataset"]["rows"] == 18 and report["blind"]["blind"] is True
    assert "Krippendorff's alpha" in outputs["build"]
    assert (work / "work" / "runs" / "tfidf_logreg" / "model_card.md").is_file()
    assert "selected" in (work / "work" / "runs" / "report.md").read_text()
