"""The `srcrel build` settings, registered as `build_schema` (configs/build.yaml)."""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import MISSING

from labeling.annotations.choices import Method, OverlapAnswers
from labeling.annotations.config import AggregationConfig, AgreementConfig, LabelIssuesConfig
from labeling.studio.config import ProjectSettings, StudioSettings
from srcrel_core.settings import register_schemas

__all__ = ["BuildConfig", "CardConfig", "MonitorConfig", "SplitConfig", "register"]


@dataclass
class SplitConfig:
    validation: float = 0.1
    test: float = 0.1


@dataclass
class CardConfig:
    license: str = "other"
    pretty_name: str = "srcrel source-reliability sentences"
    # true: the card states that the annotators were simulated (demo data)
    simulated_annotators: bool = False


@dataclass
class DatasetMeta:
    """What a researcher cites: the card's license, citation, authors and where the articles come from."""

    # the dataset's license (a Hugging Face / SPDX id: cc-by-4.0, cc-by-nc-4.0, other...); empty: card.license
    license: str = ""
    # one line on the license, needed when it is `other` (e.g. "articles under the publishers'
    # copyright: research use only, not for redistribution")
    license_note: str = ""
    # BibTeX entry, or a path to a .bib file; empty: a @misc entry made from title, authors, year, url
    citation: str = ""
    authors: list[str] = field(default_factory=list)
    url: str = ""
    # where the articles come from: outlets, dates, how they were chosen (the card's "Source data")
    source: str = ""


@dataclass
class BuildConfig:
    export: str = MISSING
    output_dir: str = MISSING
    # label set name (configs/labels/<name>.yaml) or a path to one; not `labels`: Hydra would
    # read `labels=...` as a choice in the configs/labels/ folder
    label_set: str = "default"
    # JSONL {sentence_id, label}: control answers kept outside Label Studio
    controls: str | None = None
    # ingest sentences.jsonl: extra metadata (url, outlet, published) joined by sentence_id
    sentences: str | None = None
    # CSV task,label or JSONL {task, label}: adjudicated labels override the aggregate
    adjudications: str | None = None
    # the <from_name> of the <Choices> tag in the labeling config
    from_name: str = "label"
    # the label whose annotators mark who the source is (source spans); spans on other labels are dropped
    source_label: str = "sourced"
    seed: int = 0
    # answers past a sentence's configured overlap (counted in report.json and the card either way):
    # all: aggregate every answer; first: keep the first k by time, drop the rest (reason over_overlap)
    overlap_answers: OverlapAnswers = OverlapAnswers.all
    aggregation: AggregationConfig = field(default_factory=AggregationConfig)
    agreement: AgreementConfig = field(default_factory=AgreementConfig)
    label_issues: LabelIssuesConfig = field(default_factory=LabelIssuesConfig)
    splits: SplitConfig = field(default_factory=SplitConfig)
    card: CardConfig = field(default_factory=CardConfig)
    dataset: DatasetMeta = field(default_factory=DatasetMeta)


@dataclass
class MonitorConfig:
    """`srcrel monitor`: a fresh pull of a project -> DIR/monitor.html + DIR/monitor.json."""

    project: ProjectSettings = field(default_factory=ProjectSettings)
    output: str = MISSING
    # minutes between two regenerations of the page (0: once)
    every: float = 0.0
    # an annotator whose agreement with the consensus is below this is flagged
    flag_below: float = 0.6
    # ... or whose second half of answers agrees this much less than the first half
    flag_drop: float = 0.2
    # an annotator needs this many consensus sentences before a flag is raised
    flag_min_items: int = 5
    # JSONL {sentence_id, label}; empty: <state_dir>/<project>/controls.jsonl if push wrote one
    controls: str = ""
    state_dir: str = ".srcrel/push"
    label_set: str = "default"
    # the consensus an annotator is compared with: build's default (majority; its ties count as no
    # consensus), so the monitor's flags and the dataset's labels agree
    consensus: Method = Method.majority
    # the page names annotators by their email (or display_names[email]); false: by their Label
    # Studio id only (for a page shown to others)
    annotator_names: bool = True
    display_names: dict[str, str] = field(default_factory=dict)
    bootstrap_n: int = 1000
    confidence: float = 0.95
    seed: int = 0
    # seconds to wait for the export snapshot to complete
    timeout: float = 600.0
    studio: StudioSettings = field(default_factory=StudioSettings)


def register() -> None:
    register_schemas({"build_schema": BuildConfig, "monitor_schema": MonitorConfig})
