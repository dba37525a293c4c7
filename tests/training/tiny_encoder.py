"""A tiny random BERT and a word-level tokenizer trained on given sentences, saved as a Hugging
Face model dir: a `model.pretrained` for tests that must fine-tune in seconds."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

__all__ = ["write_tiny_encoder"]

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]


def write_tiny_encoder(directory: Path, sentences: Iterable[str], *, hidden: int = 32, layers: int = 2) -> Path:
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator(sentences, trainers.WordLevelTrainer(special_tokens=SPECIAL))
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="[PAD]", unk_token="[UNK]",
                                   cls_token="[CLS]", sep_token="[SEP]")
    config = BertConfig(vocab_size=tokenizer.get_vocab_size(), hidden_size=hidden, num_hidden_layers=layers,
                        num_attention_heads=2, intermediate_size=2 * hidden, max_position_embeddings=160,
                        pad_token_id=0)
    import torch

    torch.manual_seed(0)
    BertModel(config).save_pretrained(directory)
    fast.save_pretrained(directory)
    return directory


def write_tiny_sentence_transformer(directory: Path, sentences: Iterable[str], *, seed: int = 0,
                                    prompts: dict[str, str] | None = None, default_prompt: str | None = None) -> Path:
    """The tiny BERT above behind sentence-transformers' mean pooling, saved as a sentence-transformers
    folder (modules.json, 1_Pooling/, config_sentence_transformers.json): a `features.encoder` offline."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer

    bert = write_tiny_encoder(directory.parent / f"{directory.name}-bert", sentences)
    torch.manual_seed(seed)
    word = Transformer(str(bert), max_seq_length=64)
    if seed:  # another seed: other weights, same architecture and tokenizer
        for p in word.auto_model.parameters():
            torch.nn.init.normal_(p, std=0.05)
    pooling = Pooling(word.get_embedding_dimension(), pooling_mode="mean")
    model = SentenceTransformer(modules=[word, pooling], prompts=prompts, default_prompt_name=default_prompt,
                                device="cpu")
    model.save(str(directory))
    return directory
