"""Criteo reader and writer, the synthetic click log, feature columns and deduplicated CTR batches."""

from __future__ import annotations

import numpy as np
import pytest

import ember
from ember.data import DataLoader
from ember.data.criteo import CTRTable, read_criteo, write_criteo
from ember.data.ctr_dataset import CTRDataset
from ember.data.features import (
    Bag,
    Bucketized,
    Crossed,
    FeatureColumns,
    HashBucket,
    Identity,
    LogNormalized,
    Numeric,
    Vocabulary,
    criteo_columns,
    field_keys,
    hash64,
)
from ember.data.synthetic_ctr import make_synthetic_ctr


def _line(label="1", dense=None, cats=None):
    dense = dense if dense is not None else ["1", "", "3"] + ["0"] * 10
    cats = cats if cats is not None else ["68fd1e64", ""] + ["0a1b2c3d"] * 24
    return "\t".join([label] + dense + cats) + "\n"


def test_read_criteo_fields_and_missing_values(tmp_path):
    path = tmp_path / "day.txt"
    path.write_text(_line() + _line("0", cats=["ffffffff"] * 26))
    table = read_criteo(path)
    assert table.labels.tolist() == [1.0, 0.0]
    assert table.dense.shape == (2, 13) and np.isnan(table.dense[0, 1]) and table.dense[0, 2] == 3
    assert table.categorical[0, 0] == 0x68FD1E64 and table.categorical[0, 1] == -1
    assert table.categorical[1, 5] == 0xFFFFFFFF
    assert len(read_criteo(path, limit=1)) == 1


@pytest.mark.parametrize("line, where", [
    (_line(label="2"), "line 2, column 1 (label)"),
    (_line(dense=["1", "x"] + ["0"] * 11), "line 2, column 3 (I2)"),
    (_line(cats=["zz"] + ["0"] * 25), "line 2, column 15 (C1)"),
    (_line(cats=["0"] * 3 + ["-1f"] + ["0"] * 22), "line 2, column 18 (C4)"),
    (_line(cats=["0x1f"] + ["0"] * 25), "line 2, column 15 (C1)"),
    (_line(dense=["1", "99999999999999999999"] + ["0"] * 11), "line 2, column 3 (I2): the integer does not fit"),
    (_line(dense=["1", "1_000"] + ["0"] * 11), "line 2, column 3 (I2): expected an integer"),  # int() reads 1000
    (_line(dense=["1", "-2", " 7"] + ["0"] * 10), "line 2, column 4 (I3): expected an integer"),
    (_line(dense=["1", "5-3"] + ["0"] * 11), "line 2, column 3 (I2): expected an integer"),
    ("1\t2\t3\n", "line 2: expected 40 tab-separated fields"),
])
def test_read_criteo_errors_name_file_line_and_column(tmp_path, line, where):
    path = tmp_path / "bad.txt"
    path.write_text(_line() + line)
    with pytest.raises(ValueError, match="bad.txt") as info:
        read_criteo(path)
    assert where in str(info.value)


def test_write_then_read_round_trips_a_synthetic_log(tmp_path):
    table = make_synthetic_ctr(500, seed=3).table
    write_criteo(tmp_path / "s.txt", table)
    back = read_criteo(tmp_path / "s.txt")
    np.testing.assert_array_equal(back.labels, table.labels)
    np.testing.assert_array_equal(back.categorical, table.categorical)
    np.testing.assert_array_equal(np.isnan(back.dense), np.isnan(table.dense))
    np.testing.assert_array_equal(np.nan_to_num(back.dense), np.nan_to_num(table.dense))


def test_write_criteo_leaves_no_partial_file_when_a_write_fails(tmp_path, monkeypatch):
    import ember.data.criteo as criteo

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(criteo.os, "replace", full_disk)
    with pytest.raises(OSError, match="No space left"):
        write_criteo(tmp_path / "s.txt", make_synthetic_ctr(20, seed=3).table)
    assert list(tmp_path.iterdir()) == []  # the temporary was left beside the target


def test_write_criteo_refuses_values_the_format_would_change(tmp_path):
    # a fractional feature was written truncated (2.7 -> "2"), a label 0.7 as "0" and an id -5 as "-5"
    table = make_synthetic_ctr(20, seed=3).table
    for name, change, message in [
        ("dense", lambda t: t.dense.__setitem__((4, 2), 2.7), "I3 holds 2.7 in row 4; the Criteo format writes "
                                                               "integer features"),
        ("labels", lambda t: t.labels.__setitem__(3, 0.7), "labels must be 0 or 1, got 0.7 in row 3"),
        ("categorical", lambda t: t.categorical.__setitem__((1, 0), -5), "C1 holds -5 in row 1; categorical ids"),
    ]:
        bad = table.take(np.arange(20))
        change(bad)
        with pytest.raises(ValueError, match="write_criteo: " + message):
            write_criteo(tmp_path / f"{name}.txt", bad)
        assert not (tmp_path / f"{name}.txt").exists()


def test_synthetic_log_is_seeded_power_law_and_has_a_ceiling():
    a, b = make_synthetic_ctr(20_000, seed=1), make_synthetic_ctr(20_000, seed=1)
    np.testing.assert_array_equal(a.table.categorical, b.table.categorical)
    assert not np.array_equal(a.table.labels, make_synthetic_ctr(20_000, seed=2).table.labels)
    assert abs(a.table.labels.mean() - 0.25) < 0.02
    _, counts = np.unique(a.table.categorical[:, 0], return_counts=True)
    counts = np.sort(counts)[::-1]
    assert counts[0] > 20 * np.median(counts)  # a heavy head, a long tail
    assert 0.8 < a.ceiling_auc() < 0.95 and a.ceiling_logloss() < 0.5
    train, test = a.split(0.75)
    assert len(train.table) == 15_000 and len(test.table) == 5_000
    with pytest.raises(ValueError, match="ctr"):
        make_synthetic_ctr(10, ctr=1.5)


def test_feature_columns():
    raw = {"x": np.array([0.0, 9.0, np.nan, -2.0]), "c": np.array(["a", "b", "a", "zz"]),
           "k": np.array([3, 1, 3, 2]), "age": np.array([10.0, 30.0, 70.0, np.nan])}
    np.testing.assert_allclose(LogNormalized("x").transform(raw), [0, np.log(10), 0, 0], rtol=1e-6)
    np.testing.assert_allclose(Numeric("x", mean=1, std=2).transform(raw), [-0.5, 4, -0.5, -1.5])
    assert Bucketized("age", [18, 30, 50]).transform(raw).tolist() == [0, 2, 3, 4]
    hashed = HashBucket("c", 1000).transform(raw)
    assert hashed[0] == hashed[2] != hashed[1] and hashed.max() < 1000
    assert Vocabulary("c", ["b", "a"]).transform(raw).tolist() == [1, 0, 1, 2]
    assert Identity("k", 4).transform(raw).tolist() == [3, 1, 3, 2]
    with pytest.raises(ValueError, match="outside"):
        Identity("k", 3).transform(raw)
    crossed = Crossed(["c", "k"]).transform(raw)
    assert crossed[0] == crossed[2] and len(set(crossed.tolist())) == 3
    bags = Bag("tags").transform({"tags": [np.array([3, 5]), np.array([], np.int64), np.array([5])]})
    assert bags.indptr.tolist() == [0, 2, 2, 3] and bags.indices[1] == bags.indices[2]
    with pytest.raises(KeyError, match="no raw column 'nope'"):
        HashBucket("nope").transform(raw)
    assert (hash64(np.arange(1000)) >= 0).all() and len(set(hash64(np.arange(1000)).tolist())) == 1000


def test_feature_batch_salts_keys_by_field():
    columns = FeatureColumns([LogNormalized("x"), Identity("a", 10), Identity("b", 10), Bag("t")])
    batch = columns.transform({"x": np.array([1.0, 2.0]), "a": np.array([4, 5]), "b": np.array([4, 4]),
                               "t": [np.array([4]), np.array([1, 2])]})
    assert batch.dense.shape == (2, 1) and batch.ids.tolist() == [[4, 4], [5, 4]]
    assert batch.keys[0, 0] != batch.keys[0, 1]  # the same id in two fields: two keys
    np.testing.assert_array_equal(batch.keys[:, 1], field_keys(np.array([4, 4]), 1))
    assert columns.num_fields == 3 and columns.field_names == ["a", "b", "t"]


def test_crossed_and_hash_bucket_refuse_columns_that_would_broadcast():
    """A one-value column was crossed with every row, an (N, 1) one gave (N, N) ids, a 2-D one was hashed whole."""
    a = np.array([1, 2, 3])
    with pytest.raises(ValueError, match=r"raw columns must be 1-D of one length, got shapes \[\[3\], \[1\]\]"):
        Crossed(["a", "b"]).transform({"a": a, "b": np.array([7])})
    with pytest.raises(ValueError, match=r"got shapes \[\[3\], \[3, 1\]\]"):
        Crossed(["a", "b"]).transform({"a": a, "b": a[:, None]})
    with pytest.raises(TypeError, match=r"HashBucket\('b'\): raw column 'b' must be 1-D, got shape \[3, 1\]"):
        HashBucket("b").transform({"b": a[:, None]})
    assert Crossed(["a", "b"]).transform({"a": a, "b": a + 1}).shape == (3,)
    with pytest.raises(TypeError, match=r"Vocabulary\('v'\): raw column 'v' must be 1-D, got shape \[2, 1\]"):
        Vocabulary("v", ["a", "b"]).transform({"v": np.array([["a"], ["c"]])})  # gave ids of shape (2, 1, 1)


def test_categorical_columns_read_float_ids_as_hash_bucket_does_and_vocabularies_check_the_dtype():
    """An integer vocabulary read string values as out-of-vocabulary ("1" against 1), and float ids (a column read
    with NaN for missing) failed in hash64 without naming the column (Vocabulary's out-of-vocabulary ones, Crossed,
    Bag); floats holding integers are ids, NaN -1, as HashBucket reads them."""
    ints, floats = np.array([1, 7, -1]), np.array([1.0, 7.0, np.nan])
    vocabulary = Vocabulary("c", [3, 1, 2])
    np.testing.assert_array_equal(vocabulary.transform({"c": floats}), vocabulary.transform({"c": ints}))
    assert vocabulary.transform({"c": floats})[0] == 1
    with pytest.raises(TypeError, match=r"Vocabulary\('c'\): the vocabulary holds integers but raw column 'c' has"):
        vocabulary.transform({"c": np.array(["1", "2"])})
    with pytest.raises(TypeError, match=r"Vocabulary\('f'\): the vocabulary must hold integers or strings"):
        Vocabulary("f", [0.5, 1.5])
    assert Vocabulary("s", ["1", "2"]).transform({"s": np.array([2, 5])}).tolist()[0] == 1  # ints read as strings
    k = np.array([4, 5, 6])
    np.testing.assert_array_equal(Crossed(["c", "k"]).transform({"c": floats, "k": k}),
                                  Crossed(["c", "k"]).transform({"c": ints, "k": k}))
    with pytest.raises(TypeError, match=r"Crossed\('c_X_k'\): raw column 'c' holds non-integral floats"):
        Crossed(["c", "k"]).transform({"c": floats + 0.5, "k": k})
    bag = Bag("t").transform({"t": [np.array([1.0, 7.0]), np.array([])]})
    np.testing.assert_array_equal(bag.indices, Bag("t").transform({"t": [np.array([1, 7])]}).indices)
    with pytest.raises(TypeError, match=r"Bag\('t'\): raw column 't' holds non-integral floats"):
        Bag("t").transform({"t": [np.array([0.5])]})


def test_feature_columns_count_the_rows_of_bag_columns():
    """Bags of another row count were paired with the wrong rows, and bags alone gave a batch of 0 rows."""
    tags = [np.array([4]), np.array([1, 2]), np.array([], np.int64)]
    batch = FeatureColumns([Bag("t")]).transform({"t": tags})
    assert batch.dense.shape == (3, 0) and batch.keys.shape == (3, 0) and batch.bags[0].indptr.tolist() == [0, 1, 3, 3]
    with pytest.raises(ValueError, match="column 't' has 3 rows, expected 2"):
        FeatureColumns([Identity("a", 10), Bag("t")]).transform({"a": np.array([4, 5]), "t": tags})


def test_ctr_dataset_dedups_and_prefetches_in_the_loader():
    table = make_synthetic_ctr(2_000, seed=0, second_task=True).table
    seen = []
    dataset = CTRDataset(table, criteo_columns(), prepare=lambda b: seen.append(len(b)))
    ember.manual_seed(0)
    batches = list(DataLoader(dataset, batch_size=512, shuffle=True, prefetch=2))
    assert [len(b) for b in batches] == [512, 512, 512, 464] and seen == [512, 512, 512, 464]
    b = batches[0]
    np.testing.assert_array_equal(b.unique[b.inverse], b.keys)
    assert len(b.unique) < b.keys.size and b.extra_labels.shape == (512, 1)
    assert isinstance(table, CTRTable) and table.take(np.arange(3)).dense.shape == (3, 13)
