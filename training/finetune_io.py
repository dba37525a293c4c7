"""Save and load a fine-tuned model: safetensors weights, the tokenizer and a JSON of settings.

    model/
      srcrel_finetune.json      labels, pooling, lengths, prefix, seeds, chosen epochs, source
      tokenizer.json, ...       the tokenizer (once for every seed)
      seed<k>/                  one Hugging Face model dir per served seed (config.json,
                                model.safetensors; head.safetensors when pooling=mean)

No pickle: loading runs no code from the files, as skops does for the other models.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from srcrel_core.errors import TrainingError
from training.finetune import FineTunedClassifier, SeedRun
from training.torch_runtime import bf16_supported, import_torch, pick_device

__all__ = ["SETTINGS_FILE", "load_finetuned", "save_finetuned"]

SETTINGS_FILE = "srcrel_finetune.json"
_FORMAT = 1
_PARAMS = ("pretrained", "ensemble", "lr", "epochs", "patience", "batch_size", "max_length", "eval_max_length",
           "freeze_embeddings", "pooling", "text_prefix", "class_weight", "grad_accumulation")


def save_finetuned(model: FineTunedClassifier, directory: Path) -> None:
    """Write the served seeds of a fitted model to `directory` (created)."""
    torch, _ = import_torch()
    from safetensors.torch import save_file

    directory.mkdir(parents=True, exist_ok=True)
    model.tokenizer_.save_pretrained(directory)
    served = [model.runs_[k].seed for k in model.served_]
    for k in model.served_:
        net, sub = model.networks_[k], directory / f"seed{model.runs_[k].seed}"
        net["encoder"].save_pretrained(sub, safe_serialization=True)
        if "head" in net:
            save_file({n: t.detach().cpu().contiguous() for n, t in net["head"].state_dict().items()},
                      str(sub / "head.safetensors"))
    settings = {"format": _FORMAT, "labels": [str(c) for c in model.classes_],
                **{name: getattr(model, name) for name in _PARAMS},
                "seeds": [asdict(run) for run in model.runs_], "served_seeds": served,
                "bf16": model.bf16_, "precision": model.precision_, "device": model.device_,
                "pretrained_sha256": model.pretrained_sha256_, "torch": torch.__version__}
    (directory / SETTINGS_FILE).write_text(json.dumps(settings, indent=2), encoding="utf-8")


def load_finetuned(directory: Path, *, device: str = "auto") -> FineTunedClassifier:
    """The model `save_finetuned` wrote, ready to predict (on a GPU when torch sees one)."""
    settings_path = directory / SETTINGS_FILE
    if not settings_path.is_file():
        raise TrainingError(f"{settings_path} not found: run_dir must be the output_dir of a "
                            "`srcrel train model=finetune` run")
    settings = json.loads(settings_path.read_text(encoding="utf-8"))
    if settings.get("format") != _FORMAT:
        raise TrainingError(f"{settings_path}: format {settings.get('format')} is not {_FORMAT}; retrain "
                            "it with this srcrel version")
    runs = [SeedRun(**{**r, "epoch_validation_macro_f1": tuple(r["epoch_validation_macro_f1"])})
            for r in settings["seeds"]]
    served = [r for r in runs if r.seed in settings["served_seeds"]]
    # the precision it was trained and scored in, as a preference: bf16 where this device has it (a CPU
    # always runs it), else what bf16=null picks here (fp16 on a GPU without bf16, as in training there)
    torch, _ = import_torch()
    bf16 = settings["bf16"] if settings.get("precision") != "fp16" else None
    if bf16 and pick_device(torch, device) == "cuda" and not bf16_supported(torch, "cuda"):
        bf16 = None
    model = FineTunedClassifier(**{name: settings[name] for name in _PARAMS if name in settings},
                                seeds=tuple(r.seed for r in served), bf16=bf16, device=device)
    torch, transformers = model._runtime()
    from safetensors.torch import load_file

    model.classes_ = np.asarray(settings["labels"], dtype=object)
    model.pretrained_sha256_ = settings.get("pretrained_sha256")
    model.tokenizer_ = transformers.AutoTokenizer.from_pretrained(directory)
    model.networks_, model.runs_ = [], served
    for run in served:
        sub = directory / f"seed{run.seed}"
        net = model._network(torch, transformers, str(sub))
        if "head" in net:
            net["head"].load_state_dict(load_file(str(sub / "head.safetensors")))
        net.eval()
        model.networks_.append(net)
    model.served_ = tuple(range(len(served)))
    return model

