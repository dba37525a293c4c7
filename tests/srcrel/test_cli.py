from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from labeling.studio.config import PullConfig, PushConfig, StudioConfig
from srcrel.cli import STAGES, compose_stage_config, main, stage_schema
from srcrel.help import setting_keys
from srcrel_core.errors import ConfigError
from srcrel_core.settings import to_dataclass
from tests.conftest import EXAMPLES, REPO_ROOT


def srcrel(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "srcrel.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, check=False)


def test_misspelled_key_fails_at_start_in_one_line(tmp_path: Path) -> None:
    run = srcrel("ingest", "input=x", "output_dir=y", "langg=fr", cwd=tmp_path)
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "langg" in lines[0] and lines[0].startswith("srcrel ingest: error:")


def test_missing_required_setting_names_it(tmp_path: Path) -> None:
    run = srcrel("ingest", "input=x", cwd=tmp_path)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        "srcrel ingest: error: missing required setting 'output_dir': pass output_dir=... on the command line"]


def test_wrong_type_is_one_line(tmp_path: Path) -> None:
    run = srcrel("ingest", "input=x", "output_dir=y", "workers=many", cwd=tmp_path)
    assert run.returncode == 1 and len(run.stderr.strip().splitlines()) == 1 and "workers" in run.stderr


def test_user_error_is_one_line_exit_1(tmp_path: Path) -> None:
    run = srcrel("ingest", f"input={tmp_path / 'missing'}", f"output_dir={tmp_path / 'out'}", cwd=tmp_path)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines()[-1].startswith("srcrel ingest: error: input=")
    assert "Traceback" not in run.stderr


def test_help_cfg_and_unknown_stage(tmp_path: Path) -> None:
    assert "ingest" in srcrel("--help", cwd=tmp_path).stdout
    helped = srcrel("ingest", "--help", cwd=tmp_path)
    assert helped.returncode == 0 and "output_dir" in helped.stdout
    cfg = srcrel("ingest", "input=a", "output_dir=b", "--cfg", "job", cwd=tmp_path)
    assert cfg.returncode == 0 and "input: a" in cfg.stdout
    unknown = srcrel("ingets", cwd=tmp_path)
    assert unknown.returncode == 1 and "unknown stage" in unknown.stderr


def test_ingest_end_to_end_through_the_cli(tmp_path: Path) -> None:
    run = srcrel("ingest", f"input={EXAMPLES / 'articles'}", f"output_dir={tmp_path / 'out'}", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "228" in run.stdout
    assert {p.name for p in (tmp_path / "out").iterdir()} == {"sentences.jsonl", "articles.jsonl", "tasks.json", "manifest.json"}


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_every_stage_config_composes(stage: str) -> None:
    required_choices = {"select": ["rule=checkthat"]}  # a config-group choice with no default
    cfg = compose_stage_config(stage, required_choices.get(stage, []))
    # the composed config holds exactly the schema's settings (a YAML key the schema lacks, or a
    # schema field the YAML's defaults list drops, fails here), and every required one is named
    composed = _dotted(cfg)
    assert composed == set(setting_keys(stage_schema(stage)))


def _dotted(node: object, prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for key in node:  # type: ignore[attr-defined]
        child = node._get_node(key)  # type: ignore[attr-defined]
        nested = OmegaConf.is_dict(child) and OmegaConf.get_type(child) not in (dict, None)  # a dataclass
        keys |= _dotted(child, f"{prefix}{key}.") if nested else {f"{prefix}{key}"}
    return keys


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_every_stage_has_its_own_help(stage: str, capsys: pytest.CaptureFixture[str]) -> None:
    """What the stage does and each setting with its default and doc, never Hydra's template, never
    a crash (select has a config group without a default), never the internal *_schema entries."""
    main([stage, "--help"])
    out = capsys.readouterr().out
    assert out.startswith(f"srcrel {stage}: srcrel {stage}") and "settings (key=value; default" in out
    assert "_schema" not in out and "Powered by Hydra" not in out
    listed = {line.split()[0] for line in out.splitlines() if line.startswith("  ") and line.strip()}
    assert set(setting_keys(stage_schema(stage))) <= listed


def test_config_dir_is_the_repository_configs() -> None:
    assert (REPO_ROOT / "configs" / "ingest.yaml").exists()


def test_studio_push_pull_configs_compose_with_the_shared_studio_block() -> None:
    studio = to_dataclass(compose_stage_config("studio", ["action=up", "studio.port=9001"]), StudioConfig)
    assert (studio.action, studio.studio.port, studio.studio.data_dir) == ("up", 9001, ".srcrel/studio")
    push = to_dataclass(compose_stage_config("push", ["input=d", "project.name=p", "annotators=[a@b.c]",
                                                      "controls.fraction=0.05", "label_set=checkthat"]),
                        PushConfig)
    assert (push.studio.port, push.annotators, push.label_set) == (8089, ["a@b.c"], "checkthat")
    pull = to_dataclass(compose_stage_config("pull", ["project.name=p", "output_dir=o"]), PullConfig)
    assert pull.only_with_annotations and pull.studio.port == 8089
    assert {"studio", "push", "pull"} <= set(STAGES)


def test_missing_project_name_is_named() -> None:
    with pytest.raises(ConfigError, match="project.name"):
        to_dataclass(compose_stage_config("pull", ["output_dir=o"]), PullConfig)


def test_misspelled_key_fails_fast(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["push", "input=d", "project.name=p", "chunk_sise=5"])
    assert exc.value.code == 1 and "chunk_sise" in capsys.readouterr().err


def test_bare_word_after_studio_is_the_action(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["studio", "sideways", "hydra.run.dir=/tmp/srcrel-test-run", "hydra.output_subdir=null"])
    assert exc.value.code == 1
    assert "Invalid value 'sideways', expected one of [up, down, status]" in capsys.readouterr().err


def test_a_bug_inside_a_stage_is_an_internal_error_not_a_settings_error(tmp_path, monkeypatch, capsys) -> None:
    import training.report

    def broken(cfg):
        raise RuntimeError("boom")

    monkeypatch.setattr(training.report, "run_from_config", broken)
    with pytest.raises(SystemExit) as exited:
        main(["report", "runs=x/*", f"hydra.run.dir={tmp_path}", "hydra.output_subdir=null"])
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert "Traceback" in err and "srcrel report: internal error: RuntimeError: boom" in err
    assert "settings" not in err.splitlines()[-1].split("(")[0]


def test_help_and_the_config_schemas_import_nothing_heavy() -> None:
    """Issue 20 item 13: every stage loaded pandas, scikit-learn and datasets before its help."""
    code = ("import sys; from srcrel.cli import register_configs; register_configs(); "
            "print(sorted(m for m in ('pandas', 'sklearn', 'datasets', 'torch', 'label_studio_sdk', 'scipy') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.strip() == "[]"
