"""Tiny randomly initialised Qwen3 and ModernBERT embedding models, saved to a folder offline.

Each folder has what the router's Candle code reads (config.json, model.safetensors,
tokenizer.json with the model's own special-token post-processor) and what transformers reads.
The tokenizer is a word-level one built here from a few strings: no download anywhere.
Used by the tests and by benchmarks/bench_embedding_precision.py.
"""

from __future__ import annotations

from pathlib import Path

WORDS = (
    "what is the derivative of x squared how do i sort a list in python who won battle waterloo "
    "explain photosynthesis solve equation for capital france sky blue why when where energy cell"
).split()


def _tokenizer(special_first: list[str], template_single: str, specials_in_template: list[str]):
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    vocab = {token: i for i, token in enumerate(special_first)}
    for word in WORDS:
        vocab.setdefault(word, len(vocab))
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single=template_single,
        pair=template_single + " $B:1",
        special_tokens=[(token, vocab[token]) for token in specials_in_template],
    )
    return tokenizer, len(vocab)


def save_tiny_qwen3(folder: Path, hidden: int = 32, layers: int = 2, seed: int = 0) -> Path:
    """A Qwen3 embedding model: the tokenizer appends <|endoftext|>, as Qwen3-Embedding's does."""
    import torch
    from transformers import Qwen3Config, Qwen3Model

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # The end token is not id 0 (what a batch is padded with), so a pooled pad is told from it.
    tokenizer, vocab_size = _tokenizer(["[UNK]", "<|endoftext|>"], "$A:0 <|endoftext|>:0", ["<|endoftext|>"])
    tokenizer.save(str(folder / "tokenizer.json"))
    torch.manual_seed(seed)
    config = Qwen3Config(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=hidden // 4,
        max_position_embeddings=32768,  # the router's loader requires >= 32768
        pad_token_id=0,
        eos_token_id=1,
    )
    Qwen3Model(config).save_pretrained(folder, safe_serialization=True)
    return folder


def save_tiny_modernbert(folder: Path, hidden: int = 32, layers: int = 3, seed: int = 0) -> Path:
    """A ModernBERT (mmBERT's architecture) encoder: [CLS] text [SEP], like mmBERT's tokenizer."""
    import torch
    from transformers import ModernBertConfig, ModernBertModel

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokenizer, vocab_size = _tokenizer(specials, "[CLS]:0 $A:0 [SEP]:0", ["[CLS]", "[SEP]"])
    tokenizer.save(str(folder / "tokenizer.json"))
    torch.manual_seed(seed)
    config = ModernBertConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        global_attn_every_n_layers=3,
        local_attention=16,
        max_position_embeddings=512,
        pad_token_id=0,
        cls_token_id=2,
        sep_token_id=3,
        bos_token_id=2,
        eos_token_id=3,
    )
    ModernBertModel(config).save_pretrained(folder, safe_serialization=True)
    return folder


def save_tiny_sentence_transformer(folder: Path, dtype: str = "bfloat16", seed: int = 0) -> Path:
    """A sentence-transformers folder (ModernBERT + mean pooling) whose weights are saved in
    `dtype`: sentence-transformers 6 then loads it in that dtype unless told otherwise."""
    import json

    import torch
    from transformers import AutoModel, PreTrainedTokenizerFast

    folder = Path(folder)
    source = save_tiny_modernbert(folder / ".source", seed=seed)
    AutoModel.from_pretrained(source, dtype=getattr(torch, dtype)).save_pretrained(folder, safe_serialization=True)
    specials = {"pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]", "mask_token": "[MASK]"}
    PreTrainedTokenizerFast(tokenizer_file=str(source / "tokenizer.json"), **specials).save_pretrained(folder)
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "1_Pooling").mkdir(exist_ok=True)
    pooling = {"word_embedding_dimension": 32, "pooling_mode_mean_tokens": True, "pooling_mode_cls_token": False}
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    import shutil

    shutil.rmtree(source)
    return folder
