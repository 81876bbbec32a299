"""ONNX export of the sequence layers (gru, bidirectional rnn/lstm/gru, repeat, many-to-many
decoders): onnxruntime parity with the executor at two batch sizes and two sequence lengths,
with a lengths input and garbage at padded steps; lengths reach only the layers on the input's
time axis."""

from __future__ import annotations

import numpy as np
import pytest
from test_export import build, layers_toml, random_params

from netspec.executor.reference import forward_inference
from netspec.export import check_model, export_onnx, parity_report

pytest.importorskip("onnxruntime")

CASES = {
    "gru_seq": ('type = "gru"\nunits = 5\nreturn_sequences = true', 'type = "dense"\nunits = 2'),
    "gru_last": ('type = "gru"\nunits = 5', 'type = "dense"\nunits = 2'),
    "bi_gru_seq": ('type = "gru"\nunits = 4\nbidirectional = true\nreturn_sequences = true', 'type = "dense"\nunits = 3'),
    "bi_lstm_last": ('type = "lstm"\nunits = 4\nbidirectional = true',),
    "bi_rnn_seq": ('type = "rnn"\nunits = 3\nbidirectional = true\nreturn_sequences = true',),
    "bi_lstm_seq": ('type = "lstm"\nunits = 3\nbidirectional = true\nreturn_sequences = true',),
    "encoder_repeat_decoder": ('type = "lstm"\nunits = 4', 'type = "repeat"\nlength = 3',
                               'type = "gru"\nunits = 4\nreturn_sequences = true', 'type = "dense"\nunits = 2'),
    "one_to_many_named": ('type = "gru"\nunits = 4', 'type = "repeat"\nlength = "time"',
                          'type = "gru"\nunits = 3\nreturn_sequences = true\nbidirectional = true'),
    "lstm_encoder_decoder_state": ('type = "lstm"\nname = "enc"\nunits = 4', 'type = "repeat"\nlength = 3',
                                   'type = "lstm"\nunits = 4\nreturn_sequences = true\ninitial_state = "enc"',
                                   'type = "dense"\nunits = 2'),
    "gru_encoder_decoder_state": ('type = "gru"\nname = "enc"\nunits = 4', 'type = "repeat"\nlength = "time"',
                                  'type = "gru"\nunits = 4\nreturn_sequences = true\ninitial_state = "enc"'),
    "rnn_state_only": ('type = "rnn"\nname = "enc"\nunits = 3', 'type = "repeat"\nlength = 2',
                       'type = "rnn"\nunits = 3\nreturn_sequences = true\ninitial_state = "enc"'),
}  # fmt: skip


def padded_batch(rng, b, t, f=3):
    x = rng.normal(size=(b, t, f)).astype(np.float32)
    lengths = rng.integers(1, t + 1, b)
    lengths[0] = t
    x[np.arange(t)[None, :] >= lengths[:, None]] = 5.0  # garbage: must never be read
    return x, lengths


@pytest.mark.parametrize("case", sorted(CASES))
def test_parity_two_batches_two_lengths(tmp_path, case):
    graph = build(tmp_path, layers_toml(*CASES[case]), '["time", 3]')
    params = random_params(graph)
    model = export_onnx(graph, params, opset=17, sequence_lengths=True)
    check_model(model)
    rng = np.random.default_rng(0)
    xs, lens = zip(*(padded_batch(rng, 8, t) for t in (7, 4)))
    report = parity_report(model, lambda x, ln: forward_inference(graph, params, x, ln), list(xs),
                           lengths_list=list(lens), batch_sizes=(1, 6))  # fmt: skip
    assert report["ok"], report["failures"]
    assert len(report["cases"]) == 4


@pytest.mark.parametrize("case", ["gru_seq", "bi_lstm_last"])
def test_parity_without_lengths_input(tmp_path, case):
    graph = build(tmp_path, layers_toml(*CASES[case]), '["time", 3]')
    params = random_params(graph, seed=1)
    model = export_onnx(graph, params, opset=13)
    x = np.random.default_rng(1).normal(size=(5, 6, 3)).astype(np.float32)
    report = parity_report(model, lambda a: forward_inference(graph, params, a), x, batch_sizes=(1, 5))
    assert report["ok"], report["failures"]


def test_lengths_apply_only_to_the_input_time_axis(tmp_path):
    """The issue's encoder (inputs up to 7 steps) -> 4-step decoder: lengths up to 7 must not reach
    the decoder, and a short input must not zero the decoder's later steps."""
    graph = build(tmp_path, layers_toml('type = "lstm"\nunits = 4', 'type = "repeat"\nlength = 4',
                                        'type = "lstm"\nunits = 4\nreturn_sequences = true'), '["time", 3]')  # fmt: skip
    assert [graph.takes_lengths(n) for n in graph.nodes] == [True, False, False]
    params = random_params(graph)
    x, _ = padded_batch(np.random.default_rng(2), 3, 7)
    lengths = np.array([7, 2, 5])
    y = forward_inference(graph, params, x, lengths)
    assert y.shape == (3, 4, 4)
    assert np.all(np.linalg.norm(y[1, 2:], axis=-1) > 0)  # steps past the input's length 2 are real
    alone = forward_inference(graph, params, x[1:2, :2], None)  # the same sample cut to its length
    np.testing.assert_allclose(y[1], alone[0], atol=1e-6)
