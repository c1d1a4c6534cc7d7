"""A Hugging Face `tokenizers` tokenizer learned from the training texts (no download), and texts
turned into fixed-length token-id arrays with it.

Ids: [PAD] 0, [UNK] 1, [CLS] 2; every sequence starts with [CLS] (a token transformers pool on).
`encode` sets padding and truncation on the tokenizer itself, so the saved JSON (`tokenizer_to_json`)
pads and truncates the same way wherever it is loaded. Torch-free: `nas predict` reuses it.
"""

from __future__ import annotations

from pathlib import Path

from nas_cli.errors import ConfigError

PAD, UNK, CLS = "[PAD]", "[UNK]", "[CLS]"
PAD_ID, UNK_ID, CLS_ID = 0, 1, 2
SPECIAL_TOKENS = [PAD, UNK, CLS]  # trained in this order, so they get ids 0, 1, 2
KINDS = ("word", "wordpiece", "bpe")


def train_tokenizer(texts, kind: str = "word", vocab_size: int = 20000, lowercase: bool = True):
    """A tokenizer of `kind` (word|wordpiece|bpe) learned from `texts` (the training split only).

    Args:
        texts: the training texts (str).
        kind: word (one id per word), wordpiece (BERT-style subwords) or bpe (byte-pair subwords).
        vocab_size: the most ids, special tokens included.
        lowercase: lowercase every text first (NFKC normalisation is always applied).
    """
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

    check_tokenizer_options(kind, vocab_size)
    common = {"vocab_size": vocab_size, "special_tokens": SPECIAL_TOKENS, "show_progress": False}
    if kind == "word":
        model, trainer = models.WordLevel(unk_token=UNK), trainers.WordLevelTrainer(**common)
    elif kind == "wordpiece":
        model, trainer = models.WordPiece(unk_token=UNK), trainers.WordPieceTrainer(**common)
    else:
        model, trainer = models.BPE(unk_token=UNK), trainers.BpeTrainer(**common)
    tokenizer = Tokenizer(model)
    steps = [normalizers.NFKC()] + ([normalizers.Lowercase()] if lowercase else [])
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    texts = list(texts)
    tokenizer.train_from_iterator(texts, trainer, length=len(texts))
    if [tokenizer.token_to_id(t) for t in SPECIAL_TOKENS] != [PAD_ID, UNK_ID, CLS_ID]:
        raise RuntimeError("the tokenizer trainer did not give [PAD], [UNK], [CLS] the ids 0, 1, 2")
    tokenizer.post_processor = processors.TemplateProcessing(single=f"{CLS} $A", special_tokens=[(CLS, CLS_ID)])
    return tokenizer


def check_tokenizer_options(kind: str, vocab_size: int) -> None:
    """ConfigError for a tokenizer kind or vocabulary size `train_tokenizer` does not take."""
    if kind not in KINDS:
        raise ConfigError(f"dataset.tokenizer={kind!r} is not allowed; choose one of: {', '.join(KINDS)}")
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < len(SPECIAL_TOKENS) + 1:
        raise ConfigError(f"dataset.vocab_size must be an integer >= {len(SPECIAL_TOKENS) + 1}, got {vocab_size!r}")


def encode(tokenizer, texts, max_length: int):
    """Token ids of `texts` as an int64 array [N, max_length]: [CLS] first, truncated, padded with 0."""
    import numpy as np

    tokenizer.enable_truncation(max_length=int(max_length))
    tokenizer.enable_padding(length=int(max_length), pad_id=PAD_ID, pad_token=PAD)
    encodings = tokenizer.encode_batch(list(texts))
    if not encodings:
        return np.zeros((0, int(max_length)), dtype=np.int64)
    return np.array([e.ids for e in encodings], dtype=np.int64)


def encode_training(tokenizer, texts, max_length: int | None = None):
    """(ids int64 [N, L], token counts [N] before truncation) of the training texts in one pass.

    L is `max_length`, or `default_max_length` of the counts when None. The tokenizer is left padding
    and truncating to L, as after `encode`; the ids are the same as `encode(tokenizer, texts, L)` gives.
    """
    import numpy as np

    encodings = _encode_unbounded(tokenizer, texts)
    counts = np.array([len(e.ids) for e in encodings], dtype=np.int64)
    length = default_max_length(counts) if max_length is None else int(max_length)
    ids = np.full((len(encodings), length), PAD_ID, dtype=np.int64)
    for row, e in zip(ids, encodings, strict=True):  # right truncation keeps [CLS] and the first L - 1 tokens
        kept = e.ids[:length]
        row[: len(kept)] = kept
    tokenizer.enable_truncation(max_length=length)
    tokenizer.enable_padding(length=length, pad_id=PAD_ID, pad_token=PAD)
    return ids, counts


def lengths(tokenizer, texts):
    """Token count of each text before truncation ([CLS] included), an int64 array [N]."""
    import numpy as np

    return np.array([len(e.ids) for e in _encode_unbounded(tokenizer, texts)], dtype=np.int64)


def oov_rate(tokenizer, texts) -> float:
    """Share of the texts' tokens ([CLS] and padding left out) the tokenizer maps to [UNK]."""
    unknown = total = 0
    for e in _encode_unbounded(tokenizer, texts):
        real = [i for i, special in zip(e.ids, e.special_tokens_mask, strict=True) if not special]
        unknown += real.count(UNK_ID)
        total += len(real)
    return unknown / total if total else 0.0


def default_max_length(counts, percentile: float = 99.0, cap: int = 256, floor: int = 8) -> int:
    """The sequence length used when `dataset.max_length` is null: the percentile of `counts`, clipped."""
    import numpy as np

    if len(counts) == 0:
        return floor
    return int(min(cap, max(floor, int(np.ceil(np.percentile(counts, percentile))))))


def tokenizer_to_json(tokenizer) -> str:
    """The tokenizer (vocabulary, normaliser, padding, truncation) as one JSON string."""
    return tokenizer.to_str()


def tokenizer_from_json(text: str):
    """The tokenizer saved by `tokenizer_to_json`."""
    from tokenizers import Tokenizer

    return Tokenizer.from_str(text)


def save_tokenizer(tokenizer, path) -> Path:
    """Write the tokenizer's JSON to `path` (tokenizer.json, loadable by `tokenizers` anywhere)."""
    from nas_cli.rundir import atomic_write_text

    return atomic_write_text(Path(path), tokenizer_to_json(tokenizer))


def load_tokenizer(path):
    """The tokenizer saved by `save_tokenizer`."""
    return tokenizer_from_json(Path(path).read_text(encoding="utf-8"))


def _encode_unbounded(tokenizer, texts):
    """Encodings without padding or truncation; the tokenizer's own settings are restored after."""
    truncation, padding = tokenizer.truncation, tokenizer.padding
    tokenizer.no_truncation()
    tokenizer.no_padding()
    try:
        return tokenizer.encode_batch(list(texts))
    finally:
        if truncation:
            tokenizer.enable_truncation(**truncation)
        if padding:
            tokenizer.enable_padding(**padding)
