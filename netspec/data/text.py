"""Text inputs: a CSV column of raw text (`data.text = "review"`) -> padded int64 token ids and
per-example lengths, for `embedding` + `rnn`/`lstm` (model.input_shape = ["time"]).

Tokenizers (the whole rule, so a server can repeat it):
- "word": lower-case the text, then every maximal run of letters is a token (digits,
  punctuation and spaces separate tokens): `re.findall(r"[^\\W\\d_]+", text.lower())`;
- "char": every character of the text is a token, case kept.
Ids: 0 is padding, 1 is "unknown" (out of vocabulary), then the vocabulary's tokens from 2 on,
most frequent first (ties alphabetical). The vocabulary is built on the train split only: tokens
seen at least `min_count` times, at most `vocab_size - 2` of them (`vocab_size` defaults to the
embedding's). It is saved with the model (model.json, ONNX metadata "vocabulary").
A text with no tokens is an error; so is one longer than `max_length` (when set), and, in new
data (predict / eval --data), one whose every token is unknown.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CheckpointError
from .csv_reader import read_csv
from .dataset import Dataset, Splits
from .examples import Examples, _csv_target
from .source import display_name, fail, quote
from .split import split_indices
from .targets import encode_targets

PAD, OOV = 0, 1
_WORD = re.compile(r"[^\W\d_]+")


def tokenize(text: str, tokenizer: str) -> list[str]:
    if tokenizer == "word":
        return _WORD.findall(text.lower())
    return list(text)


def _where(file: str, lines, i: int) -> str:
    return f"{file}:{lines[i]}" if lines is not None else f"{file}: text {i}"


def checked_tokens(texts: list[str], data, file: str, lines=None) -> list[list[str]]:
    """The tokens of each text, in file order; no tokens or more than max_length is an error."""
    out = []
    for i, text in enumerate(texts):
        tokens = tokenize(text, data.tokenizer)
        if not tokens:
            rule = "letters" if data.tokenizer == "word" else "characters"
            raise fail(_where(file, lines, i), f'column "{data.text}": no tokens in {quote(text)} (the '
                       f'"{data.tokenizer}" tokenizer keeps {rule}); every text needs at least one')  # fmt: skip
        if data.max_length is not None and len(tokens) > data.max_length:
            raise fail(_where(file, lines, i), f'column "{data.text}": the text has {len(tokens)} tokens, more '
                       f"than data.max_length = {data.max_length}; shorten it or raise max_length")  # fmt: skip
        out.append(tokens)
    return out


@dataclass
class Vocabulary:
    tokenizer: str
    tokens: list[str]  # id i + 2 is tokens[i]

    def __post_init__(self) -> None:
        self.index = {t: i + 2 for i, t in enumerate(self.tokens)}

    @property
    def size(self) -> int:
        """Ids in use, the two reserved ones included."""
        return len(self.tokens) + 2

    @classmethod
    def build(cls, token_lists: list[list[str]], tokenizer: str, vocab_size: int, min_count: int) -> Vocabulary:
        counts = Counter(t for tokens in token_lists for t in tokens)
        kept = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
        return cls(tokenizer, kept[: vocab_size - 2])

    def ids(self, tokens: list[str]) -> list[int]:
        return [self.index.get(t, OOV) for t in tokens]

    def encode_batch(self, texts: list[str], data, file: str, lines=None, new_data: bool = True):
        """(ids (N, T) int64 padded with 0, lengths (N,) int64); problems are located errors."""
        seqs = []
        for i, tokens in enumerate(checked_tokens(texts, data, file, lines)):
            ids = self.ids(tokens)
            if new_data and all(k == OOV for k in ids):
                raise fail(_where(file, lines, i), f'column "{data.text}": every token of {quote(texts[i])} is '
                           "unknown (none is in the training vocabulary), so the model would see only the unknown id")  # fmt: skip
            seqs.append(ids)
        steps = max((len(s) for s in seqs), default=1)
        x = np.zeros((len(seqs), steps), dtype=np.int64)
        for i, s in enumerate(seqs):
            x[i, : len(s)] = s
        return x, np.asarray([len(s) for s in seqs], dtype=np.int64)

    def to_dict(self) -> dict:
        return {"tokenizer": self.tokenizer, "pad_id": PAD, "unknown_id": OOV, "first_id": 2, "tokens": self.tokens}

    @classmethod
    def from_dict(cls, data: dict) -> Vocabulary:
        try:
            tokens = [str(t) for t in data["tokens"]]
            tokenizer = str(data["tokenizer"])
        except (KeyError, TypeError) as exc:
            raise CheckpointError(f"vocabulary: expected tokenizer and tokens ({exc})") from None
        if tokenizer not in ("word", "char"):
            raise CheckpointError(f"vocabulary: unknown tokenizer {tokenizer!r}")
        return cls(tokenizer, tokens)


def _embedding_vocab(spec) -> int:
    sizes = [ly.vocab_size for ly in spec.model.layers if ly.type == "embedding"]
    shape = spec.model.input_shape
    if spec.model.input_dtype != "int64" or not sizes or len(shape) != 1 or not isinstance(shape[0], str):
        raise fail(spec.data.path, 'data.text gives token ids: use model.input_shape = ["time"], '
                   'input_dtype = "int64" and an embedding layer first')  # fmt: skip
    vocab = spec.data.vocab_size or min(sizes)
    if vocab > min(sizes):
        raise fail(spec.data.path, f"data.vocab_size = {vocab} ids do not fit the embedding's vocab_size "
                   f"= {min(sizes)}; raise the embedding's vocab_size or lower data.vocab_size")  # fmt: skip
    return vocab


def _read(path: Path, spec, mode: str):
    file = display_name(path)
    if path.suffix.lower() != ".csv":
        raise fail(file, "data.text reads a text column of a .csv file")
    table = read_csv(path, file)
    texts = table.texts(spec.data.text, "text", "a text")
    target = None
    if spec.data.target is not None and (mode != "predict" or all(table.has(t) for t in spec.data.target_columns)):
        target = _csv_target(table, spec)
    name = ", ".join(spec.data.target_columns) if spec.data.target is not None else None
    ex = Examples(file, np.zeros((len(texts), 0)), None, target, name, table.locator, lambda i: int(i))
    return file, table, texts, ex


def load_text_splits(spec, spec_dir: Path, dtype, n_outputs) -> Splits:
    data = spec.data
    vocab_size = _embedding_vocab(spec)
    file, table, texts, ex = _read(Path(spec_dir) / data.path, spec, "train")
    y, class_names = encode_targets(ex, spec, dtype, None, n_outputs)
    tr, va, te = split_indices(len(texts), data.split.val, data.split.test, spec.seed, data.ordered_split, file)
    tokens = checked_tokens(texts, data, file, table.lines)  # every text checked, in file order
    vocab = Vocabulary.build([tokens[int(i)] for i in tr], data.tokenizer, vocab_size, data.min_count)

    def part(idx):
        if not idx.size:
            return None
        x, lengths = vocab.encode_batch([texts[int(i)] for i in idx], data, file, table.lines[idx], new_data=False)
        return Dataset(x, y[idx], lengths)

    return Splits(part(tr), part(va), part(te), class_names, None, spec.train.task, None, None, vocab)


def load_text_inputs(path: Path, spec, vocabulary: Vocabulary | None, class_names, require_targets: bool, dtype):
    if vocabulary is None:
        raise fail(display_name(path), "this model has no saved vocabulary (it was not trained on data.text)")
    file, table, texts, ex = _read(Path(path), spec, "eval" if require_targets else "predict")
    y, _ = encode_targets(ex, spec, dtype, class_names)
    x, lengths = vocabulary.encode_batch(texts, spec.data, file, table.lines)
    return Dataset(x, y, lengths)
