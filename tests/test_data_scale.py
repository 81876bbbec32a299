"""Data that grows: the fast CSV path, memory-mapped arrays, bounded reads and allocations,
and labels that must not be mangled (issues 8 and 9)."""

from __future__ import annotations

import time
import tracemalloc
import zipfile

import numpy as np
import pytest
from data_helpers import data_spec

from netspec.data import load_inputs, load_splits
from netspec.data.rows import Rows
from netspec.errors import DataError


def spec_for(path, data=None, input_shape=(3,), loss="cross_entropy", units=3, **kw):
    table = {"path": str(path), **(data if data is not None else {"target": "y"})}
    return data_spec(table, list(input_shape), loss, units, kw.get("seed", 0), kw.get("input_dtype", "float32"))


def error_of(spec, tmp_path) -> str:
    with pytest.raises(DataError) as exc:
        load_splits(spec, tmp_path)
    return str(exc.value)


def write_csv(path, rows: list[list], header=("a", "b", "c", "y")):
    path.write_text(",".join(header) + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return path


ROWS = [[i * 0.5, -i, i % 4 + 0.25, i % 3] for i in range(30)]


# -- CSV -------------------------------------------------------------------------------------


def test_fast_and_careful_paths_read_the_same_values(tmp_path):
    write_csv(tmp_path / "plain.csv", ROWS)
    quoted = [[f'"{v}"' if j == 1 else v for j, v in enumerate(r)] for r in ROWS]  # quotes: careful path
    write_csv(tmp_path / "quoted.csv", quoted)
    a = load_splits(spec_for("plain.csv"), tmp_path)
    b = load_splits(spec_for("quoted.csv"), tmp_path)
    np.testing.assert_array_equal(np.asarray(a.train.x), np.asarray(b.train.x))
    np.testing.assert_array_equal(a.train.y, b.train.y)
    assert a.class_names == b.class_names == ["0", "1", "2"]


def test_blank_lines_and_crlf_keep_line_numbers(tmp_path):
    text = "a,b,c,y\r\n1,2,3,0\r\n\r\n4,5,6,1\r\n7,x,9,2\r\n"
    (tmp_path / "d.csv").write_bytes(text.encode())
    msg = error_of(spec_for("d.csv"), tmp_path)
    assert msg.endswith('d.csv:5: column "b": expected a number, got "x"'), msg


def test_a_100000_character_label_does_not_allocate_a_fixed_width_table(tmp_path):
    rows = [[1, 2, 3, "cat" if i % 2 else "dog"] for i in range(3000)]
    rows[7][3] = "z" * 100_000
    write_csv(tmp_path / "d.csv", rows)
    tracemalloc.start()
    splits = load_splits(spec_for("d.csv"), tmp_path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert splits.class_names[:2] == ["cat", "dog"] and len(splits.class_names) == 3
    assert peak < 64 << 20, f"peak {peak / 2**20:.0f} MiB"  # was a 3000 x 100,000 x 4-byte array


def test_a_100000_character_feature_cell_is_a_located_error(tmp_path):
    rows = [[1, 2, 3, 0] for _ in range(200)]
    rows[5][1] = "9" * 50 + "x" * 100_000
    write_csv(tmp_path / "d.csv", rows)
    tracemalloc.start()
    msg = error_of(spec_for("d.csv"), tmp_path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert msg.endswith('d.csv:7: column "b": expected a number, got "' + "9" * 37 + '..."'), msg
    assert peak < 64 << 20


def test_a_40000_column_csv_reports_its_width_in_linear_time(tmp_path):
    cols = 40_000
    header = [f"c{i}" for i in range(cols)] + ["y"]
    write_csv(tmp_path / "d.csv", [[1] * cols + [0]] * 3, header)
    t0 = time.process_time()
    msg = error_of(spec_for("d.csv", input_shape=(10,)), tmp_path)
    took = time.process_time() - t0
    assert "the data has 40000 features per example but model.input_shape is [10]" in msg
    assert took < 5, f"{took:.1f} s of CPU (quadratic column lookup was ~30 s)"


def test_values_beyond_float32_are_a_located_error_not_inf(tmp_path):
    rows = [list(r) for r in ROWS]
    rows[3][2] = "1e39"
    write_csv(tmp_path / "d.csv", rows)
    msg = error_of(spec_for("d.csv"), tmp_path)
    assert msg.endswith('d.csv:5: column "c": "1e39" is beyond the range of float32 '
                        "(largest magnitude 3.40282e+38); rescale the column"), msg  # fmt: skip
    x = np.zeros((10, 3))
    x[4, 1] = -1e300
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(10) % 3)
    msg = error_of(spec_for("d.npz", {}), tmp_path)
    assert msg.endswith('d.npz: key "x": example 4 at [1]: -1e+300 is beyond the range of float32 '
                        "(largest magnitude 3.40282e+38); rescale the data"), msg  # fmt: skip


# -- labels ----------------------------------------------------------------------------------


def test_uint64_labels_keep_their_values(tmp_path):
    y = np.array([2**63 + 5, 7, 2**64 - 1] * 4, dtype=np.uint64)
    np.savez(tmp_path / "d.npz", x=np.ones((12, 3)), y=y)
    s = load_splits(spec_for("d.npz", {}), tmp_path)
    assert s.class_names == ["7", str(2**63 + 5), str(2**64 - 1)]


def test_whole_float_labels_beyond_int64_keep_their_values(tmp_path):
    y = np.array([1e19, 3.0, 2e19] * 4)
    np.savez(tmp_path / "d.npz", x=np.ones((12, 3)), y=y)
    assert load_splits(spec_for("d.npz", {}), tmp_path).class_names == ["3", str(int(1e19)), str(int(2e19))]


def test_byte_labels_that_are_not_utf8_are_refused_not_merged(tmp_path):
    y = np.array([b"a\xff", b"a\xfe", b"b"] * 4, dtype="S2")
    np.savez(tmp_path / "d.npz", x=np.ones((12, 3)), y=y)
    msg = error_of(spec_for("d.npz", {}), tmp_path)
    assert msg.endswith("d.npz: key \"y\": example 0: label b'a\\xff' is not UTF-8 text; save labels "
                        "as UTF-8 strings or integers"), msg  # fmt: skip


# -- NPZ / NPY -------------------------------------------------------------------------------


def test_npz_header_declaring_too_many_rows_is_a_located_error(tmp_path):
    import io

    member = io.BytesIO()
    np.lib.format.write_array_header_1_0(member, {"descr": "<f4", "fortran_order": False, "shape": (10**11, 3)})
    member.write(np.ones((10, 3), np.float32).tobytes())
    for compression in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        with zipfile.ZipFile(tmp_path / "d.npz", "w", compression) as zf:
            zf.writestr("x.npy", member.getvalue())
            zf.writestr("y.npy", b"")
        msg = error_of(spec_for("d.npz", {}), tmp_path)
        assert msg.endswith('d.npz: key "x": the header declares shape [100000000000, 3] (1,200,000,000,000 '
                            "bytes) but only 120 bytes of data follow; the file is truncated or its header "
                            "is wrong"), msg  # fmt: skip


def test_npz_member_that_is_not_an_array(tmp_path):
    path = tmp_path / "d.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("x.npy", b"hello, not an array")
        zf.writestr("notes.txt", b"text")
    msg = error_of(spec_for("d.npz", {}), tmp_path)
    assert 'd.npz: key "x": is not a .npy array' in msg, msg
    msg = error_of(spec_for("d.npz", {"x_key": "notes.txt", "target": "y"}), tmp_path)
    assert msg.endswith("d.npz: key \"notes.txt\": the member 'notes.txt' is not a .npy array"), msg


def test_stored_npz_and_npy_are_memory_mapped(tmp_path):
    x = np.random.default_rng(0).standard_normal((40, 3)).astype(np.float32)
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(40) % 3)
    s = load_splits(spec_for("d.npz", {"standardize": True}), tmp_path)
    assert isinstance(s.train.x, Rows) and isinstance(s.train.x.source, np.memmap)
    assert s.train.x.index.shape == (32,)  # an index over the source, not a copy
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", np.arange(40) % 3)
    t = load_splits(spec_for("x.npy", {"targets": "y.npy", "standardize": True}), tmp_path)
    assert isinstance(t.train.x.source, np.memmap)
    np.testing.assert_array_equal(np.asarray(s.train.x), np.asarray(t.train.x))
    np.testing.assert_array_equal(s.train.y, t.train.y)
    ds = load_inputs(tmp_path / "x.npy", spec_for("x.npy", {"targets": "y.npy"}), s.standardizer, s.class_names)
    assert isinstance(ds.x.source, np.memmap)


def test_npy_targets_must_match_the_inputs(tmp_path):
    np.save(tmp_path / "x.npy", np.ones((10, 3), np.float32))
    np.save(tmp_path / "y.npy", np.arange(9) % 3)
    msg = error_of(spec_for("x.npy", {"targets": "y.npy"}), tmp_path)
    assert msg.endswith("holds 9 targets but " + str(tmp_path / "x.npy") + " has 10 examples; they must have "
                        "the same length") and msg.startswith(str(tmp_path / "y.npy: ")), msg  # fmt: skip


def test_chunked_standardization_matches_numpy(tmp_path):
    from netspec.data.standardize import Standardizer

    x = np.random.default_rng(1).standard_normal((1000, 7)) * 3 + 5
    st = Standardizer.fit(x, (0,), chunk_bytes=7 * 8 * 64)  # 16 chunks
    np.testing.assert_allclose(st.mean, x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(st.std, x.std(axis=0), rtol=1e-12)


# -- Parquet ---------------------------------------------------------------------------------


def test_parquet_reads_like_the_csv(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    write_csv(tmp_path / "d.csv", ROWS)
    cols = list(zip(*ROWS))
    pq.write_table(pa.table({"a": cols[0], "b": cols[1], "c": cols[2], "y": cols[3]}), tmp_path / "d.parquet")
    a = load_splits(spec_for("d.csv", {"target": "y", "standardize": True}), tmp_path)
    b = load_splits(spec_for("d.parquet", {"target": "y", "standardize": True}), tmp_path)
    np.testing.assert_array_equal(np.asarray(a.train.x), np.asarray(b.train.x))
    np.testing.assert_array_equal(a.train.y, b.train.y)
    assert a.class_names == b.class_names


def test_parquet_errors_name_column_and_row(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    def table(**cols):
        pq.write_table(pa.table(cols), tmp_path / "d.parquet")
        return error_of(spec_for("d.parquet"), tmp_path)

    ok = [1.0, 2.0, 3.0, 4.0]
    assert table(a=ok, b=[1.0, None, 3.0, 4.0], c=ok, y=[0, 1, 2, 0]).endswith(
        'd.parquet: column "b": row 2: empty cell (null), expected a number')
    assert table(a=ok, b=ok, c=["1", "2", "x", "4"], y=[0, 1, 2, 0]).endswith(
        'd.parquet: column "c": row 3: expected a number, got "x"')
    assert table(a=ok, b=ok, c=[1.0, float("inf"), 3.0, 4.0], y=[0, 1, 2, 0]).endswith(
        'd.parquet: column "c": row 2: expected a finite number, got "inf"')
    assert table(a=ok, b=ok, c=ok, label=[0, 1, 2, 0]).endswith(
        'd.parquet: target column "y" not found (columns: a, b, c, label)')
    (tmp_path / "d.parquet").write_text("not parquet")
    assert "d.parquet: not a readable Parquet file (" in error_of(spec_for("d.parquet"), tmp_path)


def test_npy_path_needs_targets_in_the_spec(tmp_path):
    from netspec.errors import NetspecError
    from netspec.spec import load_spec

    body = ('name = "t"\n[data]\npath = "x.npy"\n[model]\ninput_shape = [3]\n[[model.layers]]\n'
            'type = "dense"\nunits = 2\nactivation = "softmax"\n[train]\nepochs = 1\nloss = "cross_entropy"\n')  # fmt: skip
    (tmp_path / "s.toml").write_text(body)
    with pytest.raises(NetspecError) as exc:
        load_spec(tmp_path / "s.toml")
    assert 'a .npy `path` holds inputs only: name the .npy of targets in `targets = "y.npy"`' in str(exc.value)
    (tmp_path / "s.toml").write_text(body.replace('path = "x.npy"', 'path = "x.csv"\ntargets = "y.npy"\ntarget = "y"'))
    with pytest.raises(NetspecError, match="`targets` pairs a .npy of inputs"):
        load_spec(tmp_path / "s.toml")
