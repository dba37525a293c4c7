from __future__ import annotations

from pathlib import Path

import pytest

from srcrel_core.errors import ConfigError
from srcrel_core.labelset import load_label_set


def test_shipped_label_sets() -> None:
    default = load_label_set("default")
    assert default.names == ("sourced", "opinion", "unverifiable")
    assert [label.hotkey for label in default.labels] == ["1", "2", "3"]
    assert all(label.description and label.color.startswith("#") for label in default.labels)
    assert load_label_set("checkthat").names == ("OBJ", "SUBJ")


def test_label_set_errors_name_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="use one of: checkthat, default"):
        load_label_set("nope")
    path = tmp_path / "dup.yaml"
    path.write_text("name: dup\nlabels: [{name: a}, {name: a}]\n")
    with pytest.raises(ConfigError, match="two distinct label names"):
        load_label_set(path)
