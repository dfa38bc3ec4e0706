"""The file readers parse strictly: a malformed CSV or libsvm file is a ValueError naming the file, line and
column, never a silent change of what the labels mean. Hypothesis writes the malformed files."""

import re

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from ember.data import CSVDataset, DataLoader, LibSVMDataset, read_csv, read_libsvm  # noqa: E402

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _write(tmp_path, text: str, name: str = "t.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _raises_at(path, line: int, column: int | None = None, message: str = ""):
    """pytest.raises for a ValueError naming ``path``, ``line``, ``column`` and then matching ``message``."""
    where = f"{re.escape(str(path))}, line {line}" + (f", column {column}\\b" if column is not None else "\\b")
    return pytest.raises(ValueError, match=f"(?s){where}.*{message}")


# --- CSV: the findings, one by one -------------------------------------------------------------------------
def test_a_blank_or_mistyped_target_is_an_error_not_string_sorted_classes(tmp_path):
    path = _write(tmp_path, "a,label\n1,0\n2,\n3,2\n4,10\n")
    with _raises_at(path, 3, 2, message="target is missing"):
        read_csv(path)
    path = _write(tmp_path, "a,label\n1,0\n2,two\n3,2\n4,10\n")
    with _raises_at(path, 3, 2, message="'two' is not a number.*target_type='class'"):
        read_csv(path)
    path = _write(tmp_path, "a,label\n1,0\n2,2\n3,10\n")
    assert read_csv(path)[1].tolist() == [0, 2, 10]  # numbers keep their values
    _, codes = read_csv(path, target_type="class")
    assert codes.tolist() == [0, 1, 2]  # as classes, ordered as numbers: 0 < 2 < 10
    assert CSVDataset(path, target_type="class").classes == ["0", "2", "10"]


def test_regression_targets_stay_numbers(tmp_path):
    path = _write(tmp_path, "a,price\n1,1.5\n2,NA\n3,2.25\n")
    with _raises_at(path, 3, 2):
        read_csv(path)
    path = _write(tmp_path, "a,price\n1,1.0\n2,3.0\n3,2.5\n")
    y = read_csv(path)[1]
    assert y.dtype == np.float32 and y.tolist() == [1.0, 3.0, 2.5]
    path = _write(tmp_path, "a,price\n1,100\n2,300\n")
    assert read_csv(path, target_type="float")[1].dtype == np.float32
    path = _write(tmp_path, "a,price\n1,1.5\n2,inf\n")
    with _raises_at(path, 3, 2, message="not finite"):
        read_csv(path)


@pytest.mark.parametrize("value", [str(2**63), str(-(2**63) - 1), "99999999999999999999999"])
def test_integer_ids_beyond_int64_are_errors_not_wrapped(tmp_path, value):
    path = _write(tmp_path, f"a,id\n1,5\n2,{value}\n")
    with _raises_at(path, 3, 2, message="does not fit in int64"):
        read_csv(path)
    assert read_csv(path, target_type="float")[1][1] == np.float32(float(value))


def test_exponent_ids_are_numbers_not_wrapped(tmp_path):
    path = _write(tmp_path, "a,id\n1,1e20\n2,3\n")
    assert read_csv(path)[1].tolist() == [np.float32(1e20), 3.0]
    with _raises_at(path, 2, 2, message="does not fit in int64"):
        read_csv(path, target_type="integer")


def test_a_wrong_delimiter_does_not_make_rows_labels(tmp_path):
    path = _write(tmp_path, "a;b;label\n1;2;0\n3;4;1\n")
    with pytest.raises(ValueError, match="single column.*is the delimiter ';'"):
        read_csv(path)
    x, y = read_csv(path, delimiter=";")
    assert x.tolist() == [[1, 2], [3, 4]] and y.tolist() == [0, 1]
    path = _write(tmp_path, "a;b\n1,5;2\n")  # decimal commas read with delimiter ';' work; with ',' they do not
    with pytest.raises(ValueError, match="is the delimiter ';'"):
        read_csv(path, target_column=None)


def test_an_unterminated_quote_does_not_swallow_the_file(tmp_path):
    path = _write(tmp_path, 'a,b,label\n1,2,0\n3,"4,1\n5,6,0\n7,8,1\n')
    with _raises_at(path, 3):
        read_csv(path)
    path = _write(tmp_path, 'a,b,label\n1,2,0\n3,"4,1\n5,6",0\n7,8,1\n')  # closed two lines later
    with _raises_at(path, 3, message="runs on to line 4"):
        read_csv(path)


def test_ragged_rows_and_bad_features_name_the_line_and_column(tmp_path):
    path = _write(tmp_path, "a,b,label\n1,2,0\n\n3,4\n")
    with _raises_at(path, 4, message="2 fields, expected 3"):
        read_csv(path)
    path = _write(tmp_path, "a,b,label\n1,2,0\n3,4x,1\n")
    with _raises_at(path, 3, 2, message=r"\('b'\): '4x' is not a number"):
        read_csv(path)


def test_classes_pin_the_codes_across_files(tmp_path):
    train = CSVDataset(_write(tmp_path, "f,y\n1,cat\n2,dog\n3,emu\n", "train.csv"))
    test = CSVDataset(_write(tmp_path, "f,y\n1,emu\n2,cat\n", "test.csv"), classes=train.classes)
    assert train.classes == ["cat", "dog", "emu"] and test.classes == train.classes
    _, codes = next(iter(DataLoader(test, batch_size=2)))
    assert codes.tolist() == [2, 0]  # the training set's codes, although the test set lacks "dog"
    with _raises_at(tmp_path / "bad.csv", 2, 2, message="not one of the given classes"):
        CSVDataset(_write(tmp_path, "f,y\n1,owl\n", "bad.csv"), classes=train.classes)


# --- libsvm ------------------------------------------------------------------------------------------------
def test_libsvm_duplicate_index_is_an_error(tmp_path):
    path = _write(tmp_path, "1 1:0.5 3:2\n0 2:1 2:3\n", "d.svm")
    with _raises_at(path, 2, 7, message="index 2 appears twice"):
        read_libsvm(path)
    with _raises_at(path, 2, 7):
        LibSVMDataset(path, dense=False)


@pytest.mark.parametrize("line, column, message", [
    ("1 1:x", 3, "not a number"), ("1 1:nan", 3, "not finite"), ("1 abc", 3, "not an index:value pair"),
    ("1 -1:2", 3, "not an index:value pair"), ("1 1:", 3, "missing"), ("cat 1:2", 1, "not a number"),
])
def test_libsvm_bad_fields_name_line_and_column(tmp_path, line, column, message):
    path = _write(tmp_path, f"0 1:1\n{line}\n", "d.svm")
    with _raises_at(path, 2, column, message):
        read_libsvm(path)


def test_libsvm_labels_keep_their_meaning(tmp_path):
    assert read_libsvm(_write(tmp_path, "+1 1:1\n-1 2:1\n", "a.svm"))[1].tolist() == [1, -1]
    y = read_libsvm(_write(tmp_path, "1.5 1:1\n2 2:1\n", "b.svm"))[1]
    assert y.dtype == np.float32 and y.tolist() == [1.5, 2.0]
    with pytest.raises(ValueError, match="does not fit in int64"):
        read_libsvm(_write(tmp_path, f"{2**63} 1:1\n", "c.svm"))


# --- fuzz: malformed CSV -----------------------------------------------------------------------------------
_float32s = st.floats(-1e6, 1e6, width=32, allow_subnormal=False)


@st.composite
def _tables(draw):
    n_rows = draw(st.integers(2, 6))  # a lone text target would be a class name
    n_features = draw(st.integers(1, 4))
    features = draw(st.lists(st.lists(_float32s, min_size=n_features, max_size=n_features), min_size=n_rows,
                             max_size=n_rows))
    integral = draw(st.booleans())
    target = st.integers(-(2**62), 2**62) if integral else _float32s
    targets = draw(st.lists(target, min_size=n_rows, max_size=n_rows))
    return features, targets, integral


def _csv_text(features, targets, delimiter=",", integral=True) -> list[list[str]]:
    header = [f"f{j}" for j in range(len(features[0]))] + ["y"]
    rows = [[repr(float(v)) for v in row] + [str(t) if integral else repr(float(t))]
            for row, t in zip(features, targets)]
    return [header] + rows


@given(table=_tables())
@FUZZ
def test_fuzz_valid_tables_read_back_exactly(tmp_path, table):
    features, targets, integral = table
    rows = _csv_text(features, targets, integral=integral)
    path = _write(tmp_path, "\n".join(",".join(r) for r in rows) + "\n")
    x, y = read_csv(path)
    np.testing.assert_array_equal(x, np.array(features, np.float32))
    if integral:
        assert y.dtype == np.int64 and y.tolist() == targets
    else:
        assert y.dtype == np.float32 and y.tolist() == np.array(targets, np.float32).tolist()


_CSV_DAMAGE = ["blank_target", "text_target", "text_feature", "short_row", "huge_id", "open_quote", "delimiter"]


@given(table=_tables(), damage=st.sampled_from(_CSV_DAMAGE), data=st.data())
@FUZZ
def test_fuzz_malformed_tables_are_errors_at_the_damaged_cell(tmp_path, table, damage, data):
    features, targets, _ = table
    rows = _csv_text(features, [int(t) for t in targets], integral=True)  # an integer column: ids, classes
    r = data.draw(st.integers(1, len(rows) - 1), label="row")  # a data row (line r + 1)
    target_col = len(rows[0])
    line, column = r + 1, None
    if damage == "blank_target":
        rows[r][-1], column = "", target_col
    elif damage == "text_target":
        rows[r][-1], column = data.draw(st.sampled_from(["NA", "x", "1.2.3", "--", "?"]), label="text"), target_col
    elif damage == "text_feature":
        c = data.draw(st.integers(0, target_col - 2), label="col")
        rows[r][c] = data.draw(st.sampled_from(["abc", "1,5", "1e", "0x10", "nan?"]), label="text")
        column = None if "," in rows[r][c] else c + 1  # a decimal comma splits the row: its width is wrong
    elif damage == "short_row":
        rows[r] = rows[r][:-1]
    elif damage == "huge_id":
        rows[r][-1], column = str(data.draw(st.integers(2**63, 2**80), label="id")), target_col
    elif damage == "open_quote":
        rows[r][0] = '"' + rows[r][0]
    delimiter = ";" if damage == "delimiter" else ","
    text = "\n".join(delimiter.join(row) for row in rows) + "\n"
    path = _write(tmp_path, text)
    if damage == "delimiter":
        line = 1 if target_col > 1 else None
        if line is None:
            return  # one column has no delimiter to get wrong
        with pytest.raises(ValueError, match=re.escape(str(path))):
            read_csv(path)
        return
    with _raises_at(path, line, column):
        read_csv(path)


# --- fuzz: malformed libsvm --------------------------------------------------------------------------------
@st.composite
def _libsvm_rows(draw):
    rows = []
    for _ in range(draw(st.integers(1, 5))):
        indices = draw(st.lists(st.integers(1, 12), unique=True, max_size=5))
        values = draw(st.lists(_float32s, min_size=len(indices), max_size=len(indices)))
        rows.append((draw(st.integers(-3, 3)), dict(zip(indices, values))))
    return rows


def _libsvm_line(label, pairs) -> str:
    return " ".join([str(label)] + [f"{i}:{float(v)!r}" for i, v in pairs])


@given(rows=_libsvm_rows())
@FUZZ
def test_fuzz_libsvm_dense_and_sparse_rows_agree(tmp_path, rows):
    path = _write(tmp_path, "\n".join(_libsvm_line(label, pairs.items()) for label, pairs in rows) + "\n", "d.svm")
    matrix, labels = read_libsvm(path, n_features=13, zero_based=True)
    expected = np.zeros((len(rows), 13), np.float32)
    for i, (_, pairs) in enumerate(rows):
        for j, v in pairs.items():
            expected[i, j] = v
    summed = np.zeros_like(expected)  # what a sparse consumer computes: entries add up
    np.add.at(summed, (np.repeat(np.arange(len(rows)), np.diff(matrix.indptr)), matrix.indices), matrix.values)
    np.testing.assert_array_equal(matrix.to_dense(), expected)
    np.testing.assert_array_equal(summed, expected)
    assert labels.tolist() == [label for label, _ in rows]


@given(rows=_libsvm_rows(), damage=st.sampled_from(["duplicate", "bad_value", "no_colon", "nan", "bad_label"]),
       data=st.data())
@FUZZ
def test_fuzz_malformed_libsvm_is_an_error_at_the_damaged_line(tmp_path, rows, damage, data):
    lines = [[str(label)] + [f"{i}:{float(v)!r}" for i, v in pairs.items()] for label, pairs in rows]
    r = data.draw(st.integers(0, len(lines) - 1), label="row")
    fields = lines[r]
    if damage == "duplicate":
        fields += ["7:1"] * (2 - sum(f.startswith("7:") for f in fields))
    elif damage == "bad_value":
        fields.append("5:" + data.draw(st.sampled_from(["x", "1..2", "", "1e"]), label="value"))
    elif damage == "no_colon":
        fields.append(data.draw(st.sampled_from(["5", "a:b", ":3", "5=2"]), label="field"))
    elif damage == "nan":
        fields.append(data.draw(st.sampled_from(["5:nan", "5:inf", "5:-Infinity"]), label="field"))
    else:
        fields[0] = data.draw(st.sampled_from(["yes", "1/2", "label"]), label="label")
    path = _write(tmp_path, "\n".join(" ".join(f) for f in lines) + "\n", "d.svm")
    with _raises_at(path, r + 1):
        read_libsvm(path)


def test_values_beyond_float32_are_errors_not_inf(tmp_path):
    csv_path, svm_path = tmp_path / "big.csv", tmp_path / "big.svm"
    csv_path.write_text("a,b,y\n1,2,0\n1e40,2,1\n")
    svm_path.write_text("1 1:0.5\n0 2:-1e39\n")
    with pytest.raises(ValueError, match=r"line 3, column 1 .*'1e40' is beyond float32's range"):
        read_csv(csv_path)
    with pytest.raises(ValueError, match=r"line 2, .*'-1e39' is beyond float32's range"):
        read_libsvm(svm_path)
    # a float target beyond float32 became inf silently (the features were checked, the targets not)
    csv_path.write_text("a,y\n1,0.5\n2,1e39\n")
    svm_path.write_text("0.5 1:1\n-1e39 2:1\n")
    with pytest.raises(ValueError, match=r"line 3, column 2 \('y'\): the target '1e39' is beyond float32's range"):
        read_csv(csv_path)
    with pytest.raises(ValueError, match=r"line 2, column 1 .*'-1e39' is beyond float32's range"):
        read_libsvm(svm_path)
