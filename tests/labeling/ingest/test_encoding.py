"""Issue 20 item 1: Western text decodes right whatever its encoding, an unsure guess says so and
names encoding=, and the summary and manifest say what each file was read with."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from labeling.ingest.config import IngestConfig
from labeling.ingest.run import run_ingest
from srcrel_core.errors import ConfigError

FR = ("Café crème pour le député, a déclaré l'élève au ministre de l'Intérieur : « Ça suffit ! » Il est parti "
      "très fâché, selon le communiqué publié lundi soir par la préfecture. ")
FR_1252 = "Le prix : 5 € — « c’est cher », a dit l’œuvre du ministre… Rien n’est moins sûr. "
EN_1252 = "He said “no” – it’s €5, according to the ministry. Nothing is less certain. "
DE = "Die Größe des Übermaßes sei schön, sagte der Bürgermeister von München am Montag vor der Presse. "
CZ = "Ministr řekl, že příští týden bude vláda jednat o rozpočtu, uvedl mluvčí úřadu. "
RU = "Министр заявил во вторник, что правительство рассмотрит бюджет, сообщил представитель. "

CASES = [
    # file, bytes, the encoding the summary names, the text that must come out, a warning expected
    ("latin1.txt", (FR * 3).encode("latin-1"), "latin-1", "Café crème", False),
    # two accented letters in nine: read right, but said to be a guess
    ("short_latin1.txt", "Café crème.".encode("latin-1"), "latin-1", "Café crème", True),
    ("cp1252_fr.txt", (FR_1252 * 3).encode("cp1252"), "cp1252", "5 € — « c’est cher »", False),
    ("cp1252_en.txt", EN_1252.encode("cp1252"), "cp1252", "“no” – it’s €5", False),
    ("de.txt", DE.encode("latin-1"), "latin-1", "Größe des Übermaßes", False),
    ("utf8.txt", FR.encode("utf-8"), "utf-8", "Café crème", False),
    ("utf8_bom.txt", b"\xef\xbb\xbf" + FR.encode("utf-8"), "utf-8", "Café crème", False),
    ("utf16_le.txt", FR.encode("utf-16"), "utf-16", "Café crème", False),
    ("utf16_be.txt", b"\xfe\xff" + FR.encode("utf-16-be"), "utf-16", "Café crème", False),
    ("cyrillic.txt", (RU * 3).encode("cp1251"), "cp1251", "Министр заявил", True),
    # Czech in cp1250 is also valid cp1252 with a fifth of its letters accented: read the Western
    # way, with the warning (encoding=cp1250 then reads it right: the test below)
    ("czech.txt", (CZ * 3).encode("cp1250"), "cp1252", "Ministr", True),
]


def _ingest(tmp_path: Path, **options: object) -> tuple[object, dict, str]:
    out = tmp_path / "out"
    result = run_ingest(IngestConfig(input=str(tmp_path / "src"), output_dir=str(out), **options))
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    texts = (out / "articles.jsonl").read_text(encoding="utf-8")
    return result, manifest, texts


@pytest.mark.parametrize(("name", "data", "encoding", "expected", "warned"), CASES, ids=[c[0] for c in CASES])
def test_each_encoding_is_read_right_and_named(tmp_path: Path, name: str, data: bytes, encoding: str,
                                               expected: str, warned: bool) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / name).write_bytes(data)
    result, manifest, texts = _ingest(tmp_path)
    assert expected in texts and "\ufeff" not in texts
    assert manifest["files"][0]["encoding"] == encoding
    assert result.encodings == {name: encoding}  # type: ignore[attr-defined]
    unsure = [p for p in manifest["problems"] if p["kind"] == "encoding_unsure"]
    assert bool(unsure) == warned
    for problem in unsure:  # one line that says it is a guess and names the setting
        assert "unsure" in problem["message"] and "encoding=" in problem["message"]


def test_the_summary_lists_the_files_by_encoding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from labeling.ingest.summary import print_ingest_summary

    (tmp_path / "src").mkdir()
    for name, data, *_ in CASES[:4] + CASES[7:8]:
        (tmp_path / "src" / name).write_bytes(data)
    result, _, _ = _ingest(tmp_path)
    print_ingest_summary(result)  # type: ignore[arg-type]
    out = " ".join(capsys.readouterr().out.split())
    assert "latin-1: latin1.txt, short_latin1.txt" in out and "cp1252: cp1252_en.txt, cp1252_fr.txt" in out
    assert "utf-16: utf16_le.txt" in out


def test_a_named_encoding_is_used_as_given(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "czech.txt").write_bytes((CZ * 3).encode("cp1250"))
    _, manifest, texts = _ingest(tmp_path, encoding="cp1250")
    assert "příští týden" in texts and manifest["files"][0]["encoding"] == "cp1250" and not manifest["problems"]


def test_a_file_that_is_not_in_the_named_encoding_is_skipped_with_the_fix(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "latin1.txt").write_bytes(FR.encode("latin-1"))
    (tmp_path / "src" / "good.txt").write_text(FR, encoding="utf-8")
    _, manifest, _ = _ingest(tmp_path, encoding="utf-8")
    [problem] = manifest["problems"]
    assert problem["source"] == "latin1.txt" and problem["kind"] == "undecodable" and problem["action"] == "skipped"
    assert "not valid utf-8" in problem["message"] and "encoding=" in problem["message"]


def test_an_unknown_encoding_name_is_refused_before_anything_is_read(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    with pytest.raises(ConfigError, match="encoding=latin-9000"):
        _ingest(tmp_path, encoding="latin-9000")
    assert not (tmp_path / "out").exists()
