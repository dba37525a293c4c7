"""Settings of the Label Studio stages (`srcrel studio|push|pull|simulate|adjudicate`), each
registered as `<stage>_schema` for its primary YAML in configs/."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from omegaconf import MISSING

from srcrel_core.progress import ProgressMode
from srcrel_core.settings import register_schemas

__all__ = [
    "AdjudicateAction",
    "AdjudicateConfig",
    "AdjudicationSource",
    "ContextMode",
    "ControlSettings",
    "Database",
    "InterfaceSettings",
    "ProjectSettings",
    "PullConfig",
    "PushConfig",
    "SimulateConfig",
    "SimulatedAnnotator",
    "StudioAction",
    "StudioConfig",
    "StudioSettings",
    "register",
]


class Database(StrEnum):
    """sqlite: Label Studio's embedded file (the demo, one operator); postgresql: a PostgreSQL
    server (teams: SQLite serialises every write)."""

    sqlite = "sqlite"
    postgresql = "postgresql"


class StudioAction(StrEnum):
    up = "up"
    down = "down"
    status = "status"


class ContextMode(StrEnum):
    """window: context_before / context_after sentences; article: the whole article."""

    window = "window"
    article = "article"


class AdjudicateAction(StrEnum):
    push = "push"
    pull = "pull"


class AdjudicationSource(StrEnum):
    """queue: DIR/adjudication_queue.csv (ties, low agreement); label_issues: DIR/label_issues.csv."""

    queue = "queue"
    label_issues = "label_issues"


@dataclass
class StudioSettings:
    """Where Label Studio runs. LABEL_STUDIO_URL + LABEL_STUDIO_API_KEY in the environment select
    an external server instead of the managed one (the key never lives in a config)."""

    # empty: LABEL_STUDIO_URL if set, else the managed server at http://127.0.0.1:<port>
    url: str = ""
    port: int = 8089
    data_dir: str = ".srcrel/studio"
    # empty: <repo>/.venv-studio/bin/label-studio (made by `make`)
    executable: str = ""
    # seconds to wait for /health on `studio up` (the first start runs migrations: ~25 s)
    start_timeout: float = 180.0
    # the annotator gateway (labeling/gateway/): the only address annotators are given and
    # the only one that may listen beyond loopback (e.g. public_host=0.0.0.0 on a LAN, see
    # docs/team-setup.md); Label Studio itself always stays on 127.0.0.1
    gateway: bool = True
    public_host: str = "127.0.0.1"
    public_port: int = 8090
    # the address annotators type, written into their files (e.g. https://label.example.org behind
    # a TLS proxy); empty: http://public_host:public_port (the machine's name for 0.0.0.0)
    public_url: str = ""
    # gateway processes side by side (postgresql only: their one-answer guard is a PostgreSQL
    # advisory lock; on SQLite one process hands out tasks one at a time)
    gateway_workers: int = 1
    # requests one account may make, per window ("N/second;M/minute", the `limits` library's
    # notation): past it, 429; a labeling screen makes a dozen calls on load, then 2-4 per sentence
    gateway_account_rate: str = "50/second;3000/minute"
    # log-in attempts per client address and account (password guessing), and credentials the
    # gateway could not identify per address (each costs Label Studio a look-up)
    gateway_login_rate: str = "10/minute"
    gateway_address_rate: str = "60/minute"
    # the label stream's hand-outs ("next task") one account may ask for: each costs Label Studio a
    # locked query (on SQLite one at a time for everyone); a person takes one every few seconds
    gateway_handout_rate: str = "10/second"
    # open connections one client address may hold (0: no cap; raise it behind a proxy that
    # makes every annotator come from one address)
    gateway_per_address: int = 64
    # postgresql: srcrel's own cluster in <data_dir>/postgres (Debian's postgresql package) on
    # 127.0.0.1:database_port, its password generated into the 0600 credentials file; or, when
    # POSTGRE_HOST is set in the environment, that existing server (Label Studio's own variables:
    # POSTGRE_HOST, POSTGRE_PORT, POSTGRE_NAME, POSTGRE_USER, POSTGRE_PASSWORD; see docs/scaling.md)
    database: Database = Database.sqlite
    database_port: int = 5433
    # empty: the newest /usr/lib/postgresql/*/bin
    postgres_bin: str = ""
    # Label Studio's web server on each port: 1 runs `label-studio start` (Django's threaded
    # development server, one process: what Label Studio ships); N > 1 runs its WSGI app under
    # gunicorn with N processes, to use every core (postgresql only; docs/scaling.md)
    workers: int = 1
    # more Label Studio processes on the same PostgreSQL, one port each; the gateway spreads the
    # annotators' requests over all of them (docs/scaling.md)
    instance_ports: list[int] = field(default_factory=list)


@dataclass
class StudioConfig:
    action: StudioAction = StudioAction.status
    studio: StudioSettings = field(default_factory=StudioSettings)


@dataclass
class ProjectSettings:
    name: str = MISSING
    # overlap k: how many annotators label each sentence of the overlap sample
    maximum_annotations: int = 1
    # share of the sentences in the overlap sample (drawn at random, seeded by overlap_seed, a
    # sentence's draw never changes when more are pushed); the rest get one annotator. Controls
    # always get k. 1.0: every sentence gets k
    overlap_share: float = 1.0
    overlap_seed: int = 0
    show_skip_button: bool = True


@dataclass
class InterfaceSettings:
    """What the labeling screen shows around the sentence (never crossing its article)."""

    context: ContextMode = ContextMode.window
    context_before: int = 2
    context_after: int = 1
    # the screen's captions, label legend and keys: auto, in each article's language (French and
    # English; others in English), or en / fr for every task
    language: str = "auto"


@dataclass
class ControlSettings:
    # JSONL of {sentence_id, label} (or {text, label}) with known answers; empty: the input dir's
    # reference_labels.jsonl (written by `srcrel ingest reference=...`) if there is one
    reference: str = ""
    # share of the pushed sentences used as controls (taken among those with a known label)
    fraction: float = 0.0
    seed: int = 0


@dataclass
class PushConfig:
    input: str = MISSING
    project: ProjectSettings = field(default_factory=ProjectSettings)
    label_set: str = "default"
    guidelines: str = "docs/guidelines.md"
    controls: ControlSettings = field(default_factory=ControlSettings)
    interface: InterfaceSettings = field(default_factory=InterfaceSettings)
    # emails of annotator accounts to create (managed server: passwords in 0600 files)
    annotators: list[str] = field(default_factory=list)
    # empty: a hash of tasks.json, so a re-run of the same input keeps the same batch id
    batch: str = ""
    chunk_size: int = 50_000
    # seconds per import request before srcrel re-checks the server and retries
    timeout: float = 600.0
    retries: int = 3
    # one push per project at a time (a lock marker in Label Studio, so it holds across machines):
    # a second push waits this many seconds for the first, then fails in one line
    lock_wait: float = 600.0
    # a marker older than this (seconds), or whose process is gone on this machine, is taken over
    lock_stale: float = 21_600.0
    # ledger of imported sentence_ids, control answers; one folder per project name
    state_dir: str = ".srcrel/push"
    # auto: a progress bar only on an interactive terminal; always; never
    progress: ProgressMode = ProgressMode.auto
    # apply a change of label set, interface, guidelines or overlap to a project that already holds
    # answers (refused otherwise: they were given under the old settings)
    force: bool = False
    studio: StudioSettings = field(default_factory=StudioSettings)


@dataclass
class SimulatedAnnotator:
    email: str = MISSING
    # probability of giving the reference label; errors spread by a seeded draw
    accuracy: float = 0.8
    # probability of keeping a pre-filled model answer as is, without reading (anchoring)
    anchoring: float = 0.0


@dataclass
class SimulateConfig:
    project: ProjectSettings = field(default_factory=ProjectSettings)
    # reference_labels.jsonl ({sentence_id, label}) written by `srcrel ingest reference=...`
    reference: str = MISSING
    annotators: list[SimulatedAnnotator] = field(default_factory=lambda: [
        SimulatedAnnotator("sim-annotator-1@srcrel.local", 0.9),
        SimulatedAnnotator("sim-annotator-2@srcrel.local", 0.8),
        SimulatedAnnotator("sim-annotator-3@srcrel.local", 0.7),
    ])
    label_set: str = "default"
    seed: int = 0
    state_dir: str = ".srcrel/push"
    progress: ProgressMode = ProgressMode.auto
    studio: StudioSettings = field(default_factory=StudioSettings)


@dataclass
class PullConfig:
    project: ProjectSettings = field(default_factory=ProjectSettings)
    output_dir: str = MISSING
    only_with_annotations: bool = True
    # seconds to wait for the export snapshot to complete
    timeout: float = 600.0
    studio: StudioSettings = field(default_factory=StudioSettings)


@dataclass
class AdjudicateConfig:
    """`srcrel adjudicate push|pull`: the Label Studio round trip of the adjudication queue."""

    action: AdjudicateAction = MISSING
    # NAME: the adjudication project is NAME + suffix (NAME already ending in suffix is kept)
    project: ProjectSettings = field(default_factory=ProjectSettings)
    suffix: str = "-adjudication"
    # push: a `srcrel build` output dir, and which of its lists to send
    build: str = ""
    source: AdjudicationSource = AdjudicationSource.queue
    # push: the first N sentences of the list (0: all of them)
    limit: int = 0
    # push: the export that build read (its sha256 is checked against report.json); null: the
    # file report.json names, looked for in the build dir's parent and the working dir
    export: str | None = None
    label_set: str = "default"
    guidelines: str = "docs/guidelines.md"
    # pull: JSONL {sentence_id, label, adjudicator, created_at}, for `srcrel build adjudications=`;
    # the raw export is saved beside it
    output: str = ""
    chunk_size: int = 50_000
    timeout: float = 600.0
    retries: int = 3
    state_dir: str = ".srcrel/push"
    progress: ProgressMode = ProgressMode.auto
    studio: StudioSettings = field(default_factory=StudioSettings)


def register() -> None:
    register_schemas({"studio_schema": StudioConfig, "push_schema": PushConfig, "pull_schema": PullConfig,
                      "simulate_schema": SimulateConfig, "adjudicate_schema": AdjudicateConfig})
