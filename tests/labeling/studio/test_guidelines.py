"""Issue 20 item 17: the guidelines reach annotators as rendered, sanitised HTML, tables included."""

from __future__ import annotations

from pathlib import Path

from labeling.studio.guidelines import read_guidelines
from tests.conftest import REPO_ROOT


def test_the_shipped_guidelines_tables_are_tables() -> None:
    _, html = read_guidelines(REPO_ROOT / "docs" / "guidelines.md")
    assert "| Sentence | Label |" not in html and "|---|" not in html  # no paragraph of pipes
    assert html.count("<table") >= 2  # the English and the French examples
    assert "<th>" in html and '<table border="1" cellpadding="4">' in html and "<td>sourced</td>" in html
    assert "<ol>" in html and ".srcrel-guidelines ol { list-style-type: decimal" in html  # numbers show
    assert " style=" not in html  # Label Studio's sanitiser drops style attributes: none are relied on


def test_the_rendering_is_sanitised(tmp_path: Path) -> None:
    guide = tmp_path / "g.md"
    guide.write_text('# T\n\n<img src=x onerror=alert(1)> [a](javascript:alert(1)) [b](https://example.org)\n\n'
                     '| a | b |\n|---|---|\n| <script>x</script> | `c` |\n\n<div style="position:fixed">raw</div>\n',
                     encoding="utf-8")
    _, html = read_guidelines(guide)
    assert "<img" not in html and "<script" not in html and "<div style" not in html  # raw HTML is shown as text
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert 'href="javascript' not in html and "[a](javascript:alert(1))" in html  # markdown-it refuses the link
    assert 'href="https://example.org"' in html and "<code>c</code>" in html
    assert '<div style="position' not in html and "&lt;div style=" in html  # shown as text, never applied


def test_outside_a_checkout_the_default_reads_the_packaged_copy(tmp_path: Path, monkeypatch) -> None:
    """Issue 20 item 5: `push` from another folder (or after pip install) found no guidelines."""
    from labeling.studio.guidelines import DEFAULT, guideline_quotes, packaged_guidelines

    monkeypatch.chdir(tmp_path)
    assert not Path(DEFAULT).exists()
    version, html = read_guidelines(Path(DEFAULT))
    assert version == read_guidelines(REPO_ROOT / DEFAULT)[0]  # the same file, the same version
    assert packaged_guidelines().read_bytes() == (REPO_ROOT / DEFAULT).read_bytes() and "<table" in html
    assert guideline_quotes(Path(DEFAULT)) == guideline_quotes(REPO_ROOT / DEFAULT)
    import pytest

    from srcrel_core.errors import ConfigError

    with pytest.raises(ConfigError, match="guidelines file mine.md not found"):
        read_guidelines(Path("mine.md"))  # a path of the user's own is never swapped for ours
