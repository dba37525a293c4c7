"""Bad input to every stage, tried as a user would: one line on stderr naming the file:line (or
setting) and the fix, exit code 1, and nothing half-written. One table, old cases and new."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from srcrel.cli import main
from tests.conftest import EXAMPLES, REPO_ROOT
from tests.training.conftest import write_dataset_dir

GUIDELINES = f"guidelines={REPO_ROOT / 'docs' / 'guidelines.md'}"
TASK = {"data": {"sentence_id": "a1-s1", "article_id": "a1", "sentence": "Le pont a été fermé.",
                 "prev_sentence": "", "next_sentence": "", "title": "", "lang": "fr"}}
CHOICE = [{"from_name": "label", "to_name": "sentence", "type": "choices", "value": {"choices": ["opinion"]}}]
LATIN1_TSV = "sentence_id\tsentence\tlabel\n1\tcaf\xe9 noir\topinion\n".encode("latin-1")
EXPORT = [{"id": 1, "data": TASK["data"], "annotations": [
    {"id": 1, "completed_by": {"id": 1, "email": "a@x.org"}, "result": CHOICE, "was_cancelled": False},
    {"id": 2, "completed_by": {"id": 2, "email": "b@x.org"}, "result": CHOICE, "was_cancelled": False}]}]


@dataclass(frozen=True)
class Case:
    stage: str
    args: Callable[[Path], list[str]]  # the command line after the stage, given a scratch dir
    expect: tuple[str, ...]  # substrings of the one error line
    untouched: tuple[str, ...] = ("out",)  # paths under the scratch dir that must not exist after
    env: dict[str, str] = field(default_factory=dict)


def _write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)  # type: ignore[operator]
    return path


def _ingested(tmp: Path) -> Path:
    _write(tmp / "ingest" / "tasks.json", json.dumps([TASK]))
    return tmp / "ingest"


def _export(tmp: Path) -> Path:
    return _write(tmp / "export.json", json.dumps(EXPORT))


def _build_dir(tmp: Path, report: str) -> Path:
    _write(tmp / "built" / "report.json", report)
    return tmp / "built"


def _truncated_dataset(tmp: Path) -> Path:
    root = write_dataset_dir(tmp / "ds")
    arrow = next((root / "dataset" / "train").glob("*.arrow"))
    arrow.write_bytes(arrow.read_bytes()[:200])
    return root


@functools.cache
def _trained_run() -> Path:
    """A majority baseline trained once on the tiny dataset (what `evaluate` cases score with)."""
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="srcrel-bad-inputs-"))
    data = write_dataset_dir(root / "tiny")
    main(["train", f"dataset={data}", "model=majority", f"output_dir={root / 'run'}",
          f"hydra.run.dir={root / 'hydra'}", "eval.learning_curve=[]", "eval.n_boot=10"])
    assert (root / "run" / "metrics.json").is_file()
    return root / "run"


CASES = {
    # ingest
    "ingest: input missing": Case("ingest", lambda t: [f"input={t / 'nope'}", f"output_dir={t / 'out'}"],
                                  ("nope",)),
    "ingest: empty folder": Case("ingest", lambda t: [f"input={(t / 'empty').mkdir() or t / 'empty'}",
                                                      f"output_dir={t / 'out'}"], ("holds no file",)),
    "ingest: reference with an unknown label": Case("ingest", lambda t: [
        f"input={EXAMPLES / 'articles'}", f"output_dir={t / 'out'}",
        f"reference={_write(t / 'ref.jsonl', json.dumps({'file': 'x.txt', 'text': 'y', 'label': 'rumour'}))}"],
        ("ref.jsonl:1", "'rumour'", "sourced, opinion, unverifiable")),
    "ingest: progress is not a choice": Case("ingest", lambda t: [f"input={t}", f"output_dir={t / 'out'}",
                                                                  "progress=sometimes"],
                                             ("'sometimes', expected one of [auto, always, never]",)),
    "ingest: output_dir is a file": Case("ingest", lambda t: [
        f"input={EXAMPLES / 'articles'}", f"output_dir={_write(t / 'taken', 'a file')}"],
        ("output_dir=", "taken is a file, not a folder")),
    "ingest: an encoding Python does not know": Case("ingest", lambda t: [
        f"input={EXAMPLES / 'articles'}", f"output_dir={t / 'out'}", "encoding=latin-9000"],
        ("encoding=latin-9000", "utf-8, latin-1")),
    # push (everything below is checked before Label Studio is contacted)
    "push: no tasks.json": Case("push", lambda t: [f"input={t}", "project.name=x", GUIDELINES],
                                ("tasks.json not found", "srcrel ingest")),
    "push: controls.reference with a malformed line": Case("push", lambda t: [
        f"input={_ingested(t)}", "project.name=x", GUIDELINES, "controls.fraction=0.5",
        "controls.reference=" + str(_write(t / "ctl.jsonl", '{"sentence_id": "a1-s1", "label": "opinion"}\n{oops\n'))],
        ("ctl.jsonl:2", "not JSON")),
    "push: controls.reference with an array line": Case("push", lambda t: [
        f"input={_ingested(t)}", "project.name=x", GUIDELINES, "controls.fraction=0.5",
        "controls.reference=" + str(_write(t / "ctl.jsonl", '["a1-s1", "opinion"]\n'))],
        ("ctl.jsonl:1", "expected a JSON object", "got list")),
    "push: a control the guidelines quote as an example": Case("push", lambda t: [
        f"input={_ingested(t)}", "project.name=x", "controls.fraction=1",
        "guidelines=" + str(_write(t / "g.md", 'Example: "Le pont a été fermé." is unverifiable.\n')),
        "controls.reference=" + str(_write(t / "ctl.jsonl", '{"sentence_id": "a1-s1", "label": "unverifiable"}\n'))],
        ("ctl.jsonl:1", "a1-s1", "quoted as an example", "g.md:1")),
    # simulate
    "simulate: the README's example file (no sentence_id)": Case("simulate", lambda t: [
        "project.name=x", f"reference={EXAMPLES / 'reference_labels.jsonl'}"],
        ("reference_labels.jsonl:1", "no sentence_id", "srcrel ingest reference=")),
    # build
    "build: export missing": Case("build", lambda t: [f"export={t / 'none.json'}", f"output_dir={t / 'out'}"],
                                  ("none.json",)),
    "build: truncated export": Case("build", lambda t: [
        f"export={_write(t / 'export.json', json.dumps(EXPORT)[:-30])}", f"output_dir={t / 'out'}"],
        ("export.json", "truncated JSON", "srcrel pull")),
    "build: adjudications with an array line": Case("build", lambda t: [
        f"export={_export(t)}", f"output_dir={t / 'out'}", "label_issues.enabled=false",
        "adjudications=" + str(_write(t / "adj.jsonl", '["a1-s1", "opinion"]\n'))],
        ("adj.jsonl:1", "expected a JSON object")),
    "build: adjudications CSV with an unclosed quote": Case("build", lambda t: [
        f"export={_export(t)}", f"output_dir={t / 'out'}", "label_issues.enabled=false",
        "adjudications=" + str(_write(t / "adj.csv", 'task,label\n"a1-s1,opinion\n'))],
        ("adj.csv:", "not valid CSV")),
    "build: aggregation.method is not a choice": Case("build", lambda t: [
        f"export={_export(t)}", f"output_dir={t / 'out'}", "aggregation.method=vote"],
        ("'vote', expected one of [majority, dawid_skene, mace, glad]",)),
    "build: a controls file with an unknown label": Case("build", lambda t: [
        f"export={_export(t)}", f"output_dir={t / 'out'}",
        f"controls={_write(t / 'c.jsonl', json.dumps({'sentence_id': 'a1-s1', 'label': 'rumour'}))}"],
        ("c.jsonl:1", "'rumour'")),
    "build: the export's labels are another label set's": Case("build", lambda t: [
        f"export={_export(t)}", f"output_dir={t / 'out'}", "label_set=checkthat"],
        ("not in label_set=checkthat", "the label set the project was pushed with")),
    "build: a misspelled setting": Case("build", lambda t: [
        f"export={_export(t)}", f"outptu_dir={t / 'out'}"], ("'outptu_dir'", "did you mean output_dir?")),
    "build: output_dir is a file": Case("build", lambda t: [
        f"export={_export(t)}", f"output_dir={_write(t / 'taken', 'a file')}", "label_issues.enabled=false"],
        ("output_dir=", "taken is a file, not a folder")),
    # train / evaluate / select
    "train: dataset missing": Case("train", lambda t: [f"dataset={t / 'none'}", f"output_dir={t / 'out'}"],
                                   ("none", "does not exist")),
    "train: truncated Arrow files": Case("train", lambda t: [f"dataset={_truncated_dataset(t)}",
                                                             f"output_dir={t / 'out'}"],
                                         ("cannot be read", "rebuild it with `srcrel build`")),
    "train: an experiment whose data_root is not there (outside a checkout)": Case("train", lambda t: [
        "experiment=checkthat_en", f"output_dir={t / 'out'}"],
        ("data_root=../shared/data does not exist", "SRCREL_DATA", "checkthat2025/")),
    "train: classifier is not a choice": Case("train", lambda t: [f"dataset={t}", f"output_dir={t / 'out'}",
                                                                  "model.classifier=forest"],
                                              ("'forest', expected one of",)),
    "evaluate: run_dir missing": Case("evaluate", lambda t: [f"run_dir={t / 'none'}", f"data={t}",
                                                             f"output_dir={t / 'out'}"], ("metrics.json not found",)),
    "evaluate: an empty TSV": Case("evaluate", lambda t: [
        f"run_dir={_trained_run()}", f"data={_write(t / 'empty_en.tsv', '')}", f"output_dir={t / 'out'}"],
        ("empty_en.tsv", "empty")),
    "evaluate: a TSV with labels the run was not trained on": Case("evaluate", lambda t: [
        f"run_dir={_trained_run()}", "data=" + str(_write(t / "yes_en.tsv", "sentence_id\tsentence\tlabel\n1\tx\tYes\n")),
        f"output_dir={t / 'out'}"], ("['Yes']", "the run was trained on these labels")),
    "evaluate: a TSV that is not UTF-8": Case("evaluate", lambda t: [
        f"run_dir={_trained_run()}", "data=" + str(_write(t / "latin_en.tsv", LATIN1_TSV)),
        f"output_dir={t / 'out'}"], ("latin_en.tsv", "not UTF-8")),
    "select: unknown rule": Case("select", lambda t: [f"dataset={t}", "rule=nope"], ("nope", "checkthat")),
    # adjudicate
    "adjudicate push: report.json is not an object": Case("adjudicate", lambda t: [
        "push", "project.name=x", f"build={_build_dir(t, '[1, 2]')}"],
        ("report.json", "not a `srcrel build` report")),
    "adjudicate: action is not a choice": Case("adjudicate", lambda t: ["sync", "project.name=x"],
                                               ("'sync', expected one of [push, pull]",)),
    # studio
    "studio status: LABEL_STUDIO_URL without its key": Case(
        "studio", lambda t: ["status"], ("LABEL_STUDIO_API_KEY is not set",),
        env={"LABEL_STUDIO_URL": "http://127.0.0.1:9"}),
    "studio up: gunicorn workers on SQLite": Case(
        "studio", lambda t: ["up", f"studio.data_dir={t / 'out'}", "studio.workers=2"],
        ("studio.workers > 1 need studio.database=postgresql",)),
    "studio up: no worker at all": Case(
        "studio", lambda t: ["up", f"studio.data_dir={t / 'out'}", "studio.workers=0"], ("studio.workers=0",)),
    "studio up: a port out of range": Case(
        "studio", lambda t: ["up", f"studio.data_dir={t / 'out'}", "studio.database=postgresql",
                             "studio.database_port=70000"], ("studio.database_port=70000 is not a TCP port",)),
    "studio up: two settings on one port": Case(
        "studio", lambda t: ["up", f"studio.data_dir={t / 'out'}", "studio.public_port=8089"],
        ("studio.port and studio.public_port name the same port",)),
    "studio up: an external PostgreSQL half given": Case(
        "studio", lambda t: ["up", f"studio.data_dir={t / 'out'}", "studio.database=postgresql"],
        ("POSTGRE_HOST is set but POSTGRE_PORT, POSTGRE_NAME, POSTGRE_USER, POSTGRE_PASSWORD is not",),
        env={"POSTGRE_HOST": "127.0.0.1"}),
    "push: an annotator that is not an email address": Case("push", lambda t: [
        f"input={_ingested(t)}", "project.name=x", GUIDELINES, "annotators=[a@example.org,not-an-email]"],
        ("annotators[1]=not-an-email", "not an email address", "annotators=[a@example.org,b@example.org]")),
    "push: an annotator listed twice": Case("push", lambda t: [
        f"input={_ingested(t)}", "project.name=x", GUIDELINES, "annotators=[a@example.org,sim@team.local,A@example.org]"],
        ("annotators[2]=A@example.org", "the same account as annotators[0]")),
    "push: a negative lock wait": Case(
        "push", lambda t: [f"input={t}", "project.name=x", "lock_wait=-1"], ("lock_wait=-1",)),
    "push: an overlap share outside (0, 1]": Case(
        "push", lambda t: [f"input={t}", "project.name=x", "project.overlap_share=1.5"],
        ("project.overlap_share=1.5",)),
    "loop next: no pool": Case(
        "loop", lambda t: ["next", "project.name=x", f"output_dir={t / 'out'}"], ("pool= is missing",)),
    "loop next: an empty batch": Case(
        "loop", lambda t: ["next", f"pool={_ingested(t)}", "project.name=x", "batch_size=0",
                           f"output_dir={t / 'out'}"], ("batch_size=0",)),
    "loop next: the anchoring check without pre-annotation": Case(
        "loop", lambda t: ["next", f"pool={_ingested(t)}", "project.name=x", "loop.anchoring_check=true",
                           f"output_dir={t / 'out'}"], ("set loop.preannotate=true",)),
    "loop next: a pool that is not an ingest dir": Case(
        "loop", lambda t: ["next", f"pool={t}", "project.name=x", f"output_dir={t / 'out'}"],
        ("tasks.json not found", "srcrel ingest")),
    "loop next: the round log of another project": Case(
        "loop", lambda t: ["next", f"pool={_ingested(t)}", "project.name=x", f"studio.data_dir={t / 'studio'}",
                           f"output_dir={_write(t / 'loop' / 'rounds.jsonl', json.dumps({'round': 0, 'project': 'y'})).parent}"],
        ("rounds.jsonl:1 is the log of project 'y', not 'x'", "its own output_dir="),
        untouched=("loop/round-000", "studio")),
    "push: predictions that are not Label Studio's": Case(
        "push", lambda t: [f"input={_write(t / 'in' / 'tasks.json', json.dumps([{**TASK, 'predictions': 'opinion'}])).parent}",
                           "project.name=x", GUIDELINES], ("task 0 has predictions that are not a list",)),
    "pull: a server that is not Label Studio": Case(
        "pull", lambda t: ["project.name=x", f"output_dir={t / 'out'}"], ("HTML page", "LABEL_STUDIO_URL"),
        env={"LABEL_STUDIO_URL": "{not_label_studio}", "LABEL_STUDIO_API_KEY": "0123"}),
}


@pytest.fixture(scope="module")
def not_label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real HTTP server on loopback that is not Label Studio: every API path is a 404 HTML page."""
    root = tmp_path_factory.mktemp("static")
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_line_exit_1_and_nothing_written(name: str, tmp_path: Path, not_label_studio: str,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    case = CASES[name]
    for key in ("LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    for key, value in case.env.items():
        monkeypatch.setenv(key, value.format(not_label_studio=not_label_studio))
    monkeypatch.chdir(tmp_path)
    args = case.args(tmp_path)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main([case.stage, *args, f"hydra.run.dir={tmp_path / 'hydra'}", "hydra.output_subdir=null"])
    err = capsys.readouterr().err.strip()
    assert exited.value.code == 1, err
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"srcrel {case.stage}: error: "), err
    for part in case.expect:
        assert part in err, (part, err)
    for path in case.untouched:
        assert not (tmp_path / path).exists(), path
