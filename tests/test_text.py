"""Text columns as a user has them: raw sentences tokenized by a stated rule, a vocabulary from
the train split only, padded ids with lengths for embedding + LSTM, predict on raw text from the
run folder and from the exported model, and the text part of the bad-data corpus."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import netspec
from netspec.data.prepare import prepare_splits, read_inputs
from netspec.data.text import OOV, PAD, Vocabulary, tokenize
from netspec.errors import DataError
from netspec.export.serve import OnnxModel, export_run
from netspec.spec import validate_data
from netspec.spec.positions import SourceMap

ROOT = Path(__file__).resolve().parent.parent


def text_spec(tmp_path: Path, path="t.csv", epochs=2, **data):
    doc = {
        "name": "txt", "seed": 0,
        "data": {"path": path, "text": "review", "target": "label", **data},
        "model": {"input_shape": ["time"], "input_dtype": "int64", "layers": [
            {"type": "embedding", "vocab_size": 20, "dim": 4}, {"type": "lstm", "units": 4},
            {"type": "dense", "units": 2, "activation": "softmax"}]},
        "train": {"epochs": epochs, "loss": "cross_entropy"},
    }  # fmt: skip
    return validate_data(doc, SourceMap(str(tmp_path / "t.toml")))


def write(tmp_path: Path, rows: list[tuple[str, str]], name="t.csv", target="label") -> Path:
    path = tmp_path / name
    path.write_text(f"review,{target}\n" + "".join(f'"{t}",{y}\n' for t, y in rows))
    return path


def test_tokenizers_follow_the_stated_rule():
    assert tokenize("Don't STOP-me now, 2 times!", "word") == ["don", "t", "stop", "me", "now", "times"]
    assert tokenize("Ab c", "char") == ["A", "b", " ", "c"]
    assert tokenize("Café über", "word") == ["café", "über"]


def test_vocabulary_ids_from_train_split_only(tmp_path):
    rows = [("good bad fine", "p"), ("bad good", "n")] * 10 + [("zebra", "p")]  # last row: test split
    write(tmp_path, rows)
    spec = text_spec(tmp_path, ordered_split=True, split={"train": 0.9, "val": 0.05, "test": 0.05}, min_count=1)
    splits, _ = prepare_splits(spec, tmp_path)
    vocab = splits.vocabulary
    assert vocab.tokens[:2] == ["bad", "good"] and "zebra" not in vocab.tokens  # counts tie: alphabetical
    assert vocab.ids(["good", "zebra"]) == [vocab.index["good"], OOV]
    x, lengths = splits.train.x, splits.train.lengths
    assert x.dtype == np.int64 and list(lengths[:2]) == [3, 2] and x[1, 2] == PAD
    assert splits.test.x[-1, 0] == OOV


def test_vocab_size_and_min_count(tmp_path):
    write(tmp_path, [("a b c d e f", "p"), ("a b c", "n"), ("a b", "p"), ("a", "n")] * 3)
    v = prepare_splits(text_spec(tmp_path, vocab_size=4, min_count=1), tmp_path)[0].vocabulary
    assert v.size == 4 and v.tokens == ["a", "b"]
    v = prepare_splits(text_spec(tmp_path, min_count=5), tmp_path)[0].vocabulary
    assert set(v.tokens) <= {"a", "b", "c"}


def test_reviews_lstm_trains_exports_and_predicts_raw_text(tmp_path):
    spec = netspec.load(ROOT / "specs" / "reviews_lstm.toml")
    result = netspec.train(spec, out=tmp_path / "run", epochs=6)
    assert result.metrics["test"]["accuracy"] > 0.8
    saved = json.loads((tmp_path / "run" / "vocabulary.json").read_text())
    assert saved["pad_id"] == 0 and saved["unknown_id"] == 1 and saved["tokenizer"] == "word"
    model = netspec.load_run(tmp_path / "run")
    report = export_run(model, tmp_path / "m.onnx")
    assert report["ok"], report["failures"]
    served = OnnxModel(tmp_path / "m.onnx")
    meta = {p.key: p.value for p in served.proto.metadata_props}
    assert json.loads(meta["vocabulary"])["tokens"] == saved["tokens"] and meta["input_kind"] == "text"
    new = write(tmp_path, [("A wonderful and moving film!", "positive"), ("Dull, tedious plot.", "negative"),
                           ("the film was", "positive")], "new.csv", "sentiment")  # fmt: skip
    ds = model.read(new, require_targets=True)
    np.testing.assert_allclose(served.predict(*(lambda d: (d.x, d.lengths))(served.read(new))),
                               model.predict(ds.x, ds.lengths, raw=False), rtol=1e-4, atol=1e-5)  # fmt: skip
    direct = model.predict_texts(["A wonderful and moving film!", "Dull, tedious plot."])
    assert list(np.argmax(direct, axis=1)) == [model.class_names.index("positive"), model.class_names.index("negative")]


# -- the bad-data corpus for text --------------------------------------------------------------
@pytest.mark.parametrize("text,mode,data,message", [
    ("", "train", {}, 't.csv:3: column "review": empty cell, expected a text'),
    ("!!! 42", "train", {}, 't.csv:3: column "review": no tokens in "!!! 42" (the "word" tokenizer keeps '
                            'letters); every text needs at least one'),
    ("a b c d e f g", "train", {"max_length": 5}, 't.csv:3: column "review": the text has 7 tokens, more than '
                                                   'data.max_length = 5; shorten it or raise max_length'),
    ("zebra quagga", "predict", {}, 't.csv:3: column "review": every token of "zebra quagga" is unknown (none '
                                    'is in the training vocabulary), so the model would see only the unknown id'),
])  # fmt: skip
def test_bad_text_is_a_located_error(tmp_path, text, mode, data, message):
    write(tmp_path, [("good film", "p"), (text, "n"), ("bad film", "n")] * 4)
    spec = text_spec(tmp_path, **data)
    with pytest.raises(DataError) as err:
        if mode == "train":
            prepare_splits(spec, tmp_path)
        else:
            vocab = Vocabulary("word", ["good", "bad", "film"])
            read_inputs(tmp_path / "t.csv", spec, None, ["n", "p"], vocabulary=vocab)
    assert str(err.value).endswith(message), str(err.value)


def test_text_needs_an_embedding_input(tmp_path):
    write(tmp_path, [("good", "p"), ("bad", "n")] * 5)
    doc = {"name": "t", "data": {"path": "t.csv", "text": "review", "target": "label"},
           "model": {"input_shape": [3], "layers": [{"type": "dense", "units": 2, "activation": "softmax"}]},
           "train": {"epochs": 1, "loss": "cross_entropy"}}  # fmt: skip
    with pytest.raises(DataError, match='data.text gives token ids: use model.input_shape = \\["time"\\]'):
        prepare_splits(validate_data(doc, SourceMap(str(tmp_path / "t.toml"))), tmp_path)
