from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labeling.ingest.config import IngestConfig
from labeling.ingest.run import run_ingest
from srcrel_core.errors import InputError
from tests.conftest import EXAMPLES, shared_path

FR = "Le ministre a démissionné mardi, a annoncé l’Élysée. Rien n’est moins sûr."
EN = "The minister resigned on Tuesday, the palace said. Nothing is less certain."


def ingest(src: Path, out: Path, **options: object) -> tuple[object, list[dict], dict]:
    result = run_ingest(IngestConfig(input=str(src), output_dir=str(out), **options))  # type: ignore[arg-type]
    records = [orjson.loads(line) for line in (out / "sentences.jsonl").read_bytes().splitlines()]
    manifest = json.loads((out / "manifest.json").read_text())
    return result, records, manifest


def test_seed_article_contract(tmp_path: Path) -> None:
    seed = shared_path("seed", "fr_news_article.txt")
    _, records, manifest = ingest(seed, tmp_path / "out")
    assert len(records) == 21 and {r["lang"] for r in records} == {"fr"}
    article = orjson.loads((tmp_path / "out" / "articles.jsonl").read_bytes().splitlines()[0])
    for i, record in enumerate(records):
        assert record["index"] == i
        assert article["text"][record["char_start"] : record["char_end"]] == record["text"]
        assert record["prev_text"] == (records[i - 1]["text"] if i else "")
        assert record["next_text"] == (records[i + 1]["text"] if i < 20 else "")
    tasks = json.loads((tmp_path / "out" / "tasks.json").read_text())
    assert [t["data"]["sentence_id"] for t in tasks] == [r["sentence_id"] for r in records]
    assert tasks[5]["data"]["sentence"] == "Rien n'est moins sûr."
    assert manifest["files"][0]["sha256"] and manifest["counts"]["sentences"] == 21


def test_example_corpus_reference_matches_every_sentence(tmp_path: Path) -> None:
    result, records, manifest = ingest(EXAMPLES / "articles", tmp_path / "out",
                                       reference=str(EXAMPLES / "reference_labels.jsonl"))
    ref = manifest["reference"]
    assert ref["matched"] == len(records) == ref["rows"]
    assert ref["unmatched_rows"] == 0 and ref["sentences_without_reference"] == 0
    assert set(ref["label_mix"]) == {"sourced", "opinion", "unverifiable"}
    assert set(result.sentences_by_lang) == {"fr", "en"}
    by_file = {r["source"][:2]: r["lang"] for r in records}
    assert by_file == {"fr": "fr", "en": "en"}


def test_same_input_gives_byte_identical_outputs(tmp_path: Path) -> None:
    ingest(EXAMPLES / "articles", tmp_path / "a")
    ingest(EXAMPLES / "articles", tmp_path / "b")
    for name in ("sentences.jsonl", "articles.jsonl", "tasks.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    manifest_a = json.loads((tmp_path / "a" / "manifest.json").read_text())
    manifest_b = json.loads((tmp_path / "b" / "manifest.json").read_text())
    manifest_a["config"].pop("output_dir"), manifest_b["config"].pop("output_dir")
    assert manifest_a == manifest_b


def ids(out: Path) -> dict[str, str]:
    return {orjson.loads(line)["text"]: orjson.loads(line)["sentence_id"]
            for line in (out / "sentences.jsonl").read_bytes().splitlines()}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(extra=st.lists(st.text(alphabet="abcdefghij .?!ABC", min_size=5, max_size=80), max_size=4))
def test_ids_do_not_move_when_other_articles_are_added_renamed_or_removed(tmp_path: Path, extra: list[str]) -> None:
    src = tmp_path / f"src{abs(hash(tuple(extra)))}"
    src.mkdir()
    (src / "b.txt").write_text(FR, encoding="utf-8")
    before = ids_of(src, tmp_path / "before")
    for n, text in enumerate(extra):
        (src / f"a{n}.txt").write_text(text + " Fin.", encoding="utf-8")
    (src / "b.txt").rename(src / "zz_renamed.txt")
    after = ids_of(src, tmp_path / "after")
    assert all(after[text] == sentence_id for text, sentence_id in before.items())
    shutil.rmtree(src)


def ids_of(src: Path, out: Path) -> dict[str, str]:
    run_ingest(IngestConfig(input=str(src), output_dir=str(out)))
    return ids(out)


def test_jsonl_csv_html_and_markdown(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "rows.jsonl").write_text(
        json.dumps({"id": "given-1", "text": FR, "title": "T", "url": "http://x", "lang": "fr"}) + "\n"
        + json.dumps({"text": EN, "outlet": "Daily"}) + "\n", encoding="utf-8")
    (src / "rows.csv").write_text('id,text,published\nc1,"The mayor said ""no"". It rained.",2024-01-01\n', encoding="utf-8")
    (src / "page.html").write_text(
        "<html><head><title>Un titre</title></head><body><nav>Menu</nav><article><h1>Un titre</h1>"
        "<p>Le conseil municipal a voté le budget lundi soir, a indiqué la mairie dans un communiqué publié mardi.</p>"
        "<p>Les travaux de la nouvelle médiathèque commenceront au printemps prochain, selon le calendrier officiel.</p>"
        "</article><footer>Mentions légales</footer></body></html>", encoding="utf-8")
    (src / "note.md").write_text("# Titre markdown\n\nUn paragraphe. Un autre.\n", encoding="utf-8")
    result, _, _ = ingest(src, tmp_path / "out")
    articles = {a["source"] + str(a["line"] or ""): a for a in map(orjson.loads, (tmp_path / "out" / "articles.jsonl").read_bytes().splitlines())}
    assert articles["rows.jsonl1"]["article_id"] == "given-1"
    assert articles["rows.jsonl1"]["lang_source"] == "input" and articles["rows.jsonl1"]["url"] == "http://x"
    assert articles["rows.jsonl2"]["outlet"] == "Daily" and articles["rows.jsonl2"]["lang"] == "en"
    assert articles["rows.csv2"]["article_id"] == "c1" and articles["rows.csv2"]["published"] == "2024-01-01"
    assert articles["page.html"]["title"] == "Un titre" and "Menu" not in articles["page.html"]["text"]
    assert articles["page.html"]["text"].startswith("Le conseil municipal")
    assert articles["note.md"]["title"] == "Titre markdown"
    assert result.articles_kept == 5 and not result.problems


def write_bad_inputs(src: Path) -> None:
    src.mkdir()
    (src / "good.txt").write_text(FR, encoding="utf-8")
    (src / "empty.txt").write_bytes(b"")
    (src / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20)
    (src / "latin1.txt").write_bytes("Le député a déclaré : « Ça suffit ! » Il est parti très fâché.".encode("cp1252"))
    (src / "huge.txt").write_bytes(b"word " * 2_100_000)  # ~10 MB on a single line
    (src / "page.txt").write_text("<html><body><div><p>Le préfet a annoncé la fermeture du pont lundi, selon un communiqué "
                                   "officiel publié par la préfecture du département.</p></div></body></html>", encoding="utf-8")
    (src / "nosentence.txt").write_text("   \n …  \n", encoding="utf-8")
    (src / "rows.jsonl").write_text(json.dumps({"text": EN}) + "\n{not json\n" + json.dumps({"title": "no text"}) + "\n", encoding="utf-8")
    (src / "rows.csv").write_text("id,text\nr1,\"unterminated quote here\nr2,ok text. Fine.,extra\n", encoding="utf-8")
    (src / "zdup.txt").write_text(FR, encoding="utf-8")
    locked = src / "locked.txt"
    locked.write_text(EN + " Locked.", encoding="utf-8")
    locked.chmod(0)


def test_bad_inputs_are_reported_and_the_run_goes_on(tmp_path: Path) -> None:
    write_bad_inputs(tmp_path / "src")
    result, records, manifest = ingest(tmp_path / "src", tmp_path / "out")
    kinds = {(p["source"], p["kind"], p["action"]) for p in manifest["problems"]}
    expected = {
        ("empty.txt", "empty", "skipped"),
        ("binary.txt", "binary", "skipped"),
        ("latin1.txt", "encoding_unsure", "warned"),  # a short, dense line: read right, said to be a guess
        ("huge.txt", "too_long", "skipped"),
        ("page.txt", "html_in_text", "warned"),
        ("nosentence.txt", "no_sentence", "skipped"),
        ("rows.jsonl", "malformed_row", "skipped"),
        ("rows.jsonl", "missing_text", "skipped"),
        ("rows.csv", "malformed_row", "skipped"),
        ("zdup.txt", "duplicate", "skipped"),
    }
    if os.geteuid() != 0:  # root reads a chmod-0 file anyway
        expected.add(("locked.txt", "unreadable", "skipped"))
    assert expected <= kinds
    assert manifest["counts"]["fragments_without_words"] == 1  # the lone "…"
    jsonl_lines = {p["line"] for p in manifest["problems"] if p["source"] == "rows.jsonl"}
    assert jsonl_lines == {2, 3}
    texts = " ".join(r["text"] for r in records)
    assert "Ça suffit" in texts and "Le préfet a annoncé" in texts and "<p>" not in texts
    counts = manifest["counts"]
    assert counts["articles_read"] == counts["articles_kept"] + sum(counts["articles_dropped"].values())
    assert counts["files_found"] == counts["files_read"] + sum(counts["files_skipped"].values())
    for problem in result.problems:  # one line naming the file, saying what to do
        line = problem.describe()
        assert "\n" not in line and line.startswith(problem.source) and ":" in line


def test_strict_refuses_and_writes_nothing(tmp_path: Path) -> None:
    write_bad_inputs(tmp_path / "src")
    with pytest.raises(InputError, match="strict=true"):
        run_ingest(IngestConfig(input=str(tmp_path / "src"), output_dir=str(tmp_path / "out"), strict=True))
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert not list(tmp_path.glob(".out.staging-*"))


def test_failure_mid_write_leaves_previous_outputs_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text(FR, encoding="utf-8")
    ingest(src, tmp_path / "out")
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    (src / "b.txt").write_text(EN, encoding="utf-8")

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    # a fault we cannot cause for real: the disk filling up while the articles file is written
    monkeypatch.setattr("labeling.ingest.run._write_articles", boom)
    with pytest.raises(OSError):
        run_ingest(IngestConfig(input=str(src), output_dir=str(tmp_path / "out")))
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == before


def test_missing_input_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        run_ingest(IngestConfig(input=str(tmp_path / "nope"), output_dir=str(tmp_path / "out")))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no file"):
        run_ingest(IngestConfig(input=str(tmp_path / "empty"), output_dir=str(tmp_path / "out")))


def test_lang_override_and_parallel_path_agree(tmp_path: Path) -> None:
    articles = shared_path("polnear", "articles")
    src = tmp_path / "src"
    src.mkdir()
    for path in sorted(articles.glob("*.txt"))[:40]:
        shutil.copy(path, src / path.name)
    _, single, _ = ingest(src, tmp_path / "one", workers=1)
    _, multi, _ = ingest(src, tmp_path / "two", workers=2)
    assert single == multi and {r["lang"] for r in single} == {"en"}
    _, forced, _ = ingest(src, tmp_path / "fr", workers=1, lang="fr")
    assert {r["lang"] for r in forced} == {"fr"}


def test_boilerplate_is_flagged_not_dropped(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for n in range(3):
        (src / f"a{n}.txt").write_text(f"Article numéro {n} sur le budget. Lire aussi : nos autres articles.", encoding="utf-8")
    _, records, _ = ingest(src, tmp_path / "out")
    flagged = {r["text"] for r in records if r["boilerplate"]}
    assert flagged == {"Lire aussi : nos autres articles."}
    assert len(records) == 6
