"""``ember.testing`` against ``torch.testing``: assert_close's verdicts and messages (values, tolerances per dtype,
nesting, attributes, msg) and make_tensor's ranges, dtypes, flags and errors."""

import re
import warnings

import numpy as np
import pytest

import ember
from ember.testing import assert_close, make_tensor

torch = pytest.importorskip("torch")
TT = pytest.importorskip("torch.testing")


def _message(fn, *args, **kwargs):
    """The (type, message) ``fn`` raises, or None when it passes."""
    try:
        fn(*args, **kwargs)
    except (AssertionError, TypeError, ValueError) as exc:
        return type(exc), str(exc)
    return None


def _torch_names(text: str) -> str:
    """A torch message with its dtype and tensor type names spelled as Ember's."""
    text = re.sub(r"torch\.Size\(\[([^\]]*)\]\)", lambda m: f"({m.group(1)}{',' if ',' not in m.group(1) else ''})",
                  text)
    return text.replace("torch.", "").replace("<class 'Tensor'>", "<class 'ember.tensor.Tensor'>")


def _same_verdict(actual, expected, tactual, texpected, **kwargs):
    ours = _message(assert_close, actual, expected, **kwargs)
    theirs = _message(TT.assert_close, tactual, texpected, **kwargs)
    if theirs is None:
        assert ours is None
    else:
        assert ours is not None, theirs
        assert (ours[0], ours[1]) == (theirs[0], _torch_names(theirs[1]))


VALUE_CASES = [
    ([1.0, 2.0, 3.0], [1.0, 2.5, 3.1], "float32"),
    ([[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.0], [3.0, 5.0]], "float32"),
    ([1.0, 2.0], [1.0, 2.0000001], "float32"),
    ([1.0], [1.2], "float64"),
    ([1.0], [1.0 + 1e-8], "float64"),
    ([1, 2, 3], [1, 2, 4], "int64"),
    ([1, 2], [2, 1], "uint8"),
    ([True, False], [False, False], "bool"),
    ([1.0], [1.001], "float16"),
    ([1.0], [1.1], "float16"),
    ([1.0], [1.01], "bfloat16"),
    ([np.inf], [np.inf], "float32"),
    ([np.inf], [-np.inf], "float32"),
    ([np.nan, 1.0], [np.nan, 1.0], "float32"),
    ([0.0, 1.0], [1e-6, 1.0], "float32"),
    ([], [], "float32"),
    (2.0, 1.0, "float32"),
    (3, 4, "int64"),
]


@pytest.mark.parametrize("a, b, dtype", VALUE_CASES)
def test_assert_close_verdicts_and_messages_as_pytorch(a, b, dtype):
    _same_verdict(ember.tensor(a, dtype=dtype), ember.tensor(b, dtype=dtype),
                  torch.tensor(a, dtype=getattr(torch, dtype)), torch.tensor(b, dtype=getattr(torch, dtype)))


def test_assert_close_equal_nan_and_given_tolerances():
    a, b = [np.nan, 1.0, 2.0], [np.nan, 1.05, 2.0]
    for kwargs in ({}, {"equal_nan": True}, {"rtol": 0.1, "atol": 0.0}, {"rtol": 0.0, "atol": 0.0},
                   {"rtol": 0.0, "atol": 0.06, "equal_nan": True}):
        _same_verdict(ember.tensor(a), ember.tensor(b), torch.tensor(a), torch.tensor(b), **kwargs)
    _same_verdict(ember.tensor([1, 5]), ember.tensor([2, 5]), torch.tensor([1, 5]), torch.tensor([2, 5]),
                  rtol=0.6, atol=0)


def test_assert_close_without_check_dtype_promotes_and_takes_the_looser_tolerance():
    for a, da, b, db in (([1.0], "float32", [1.00001], "float64"), ([1.0], "float32", [1.1], "float64"),
                         ([1], "int64", [1.1], "float32"), ([1.0, 2.0], "float32", [1, 2], "int64")):
        _same_verdict(ember.tensor(a, dtype=da), ember.tensor(b, dtype=db), torch.tensor(a, dtype=getattr(torch, da)),
                      torch.tensor(b, dtype=getattr(torch, db)), check_dtype=False)


def test_assert_close_attributes_as_pytorch():
    x = ember.tensor([1.0])
    assert _message(assert_close, x, ember.tensor([1.0], dtype="float64")) == (
        AssertionError, "The values for attribute 'dtype' do not match: float32 != float64.")
    _same_verdict(x, ember.tensor([1.0, 2.0]), torch.tensor([1.0]), torch.tensor([1.0, 2.0]))
    _same_verdict(ember.ones(2, 2), ember.ones(2, 2).t(), torch.ones(2, 2), torch.ones(2, 2).t(), check_stride=True)
    _same_verdict(ember.ones(2, 2), ember.ones(2, 2).t(), torch.ones(2, 2), torch.ones(2, 2).t())


def test_assert_close_numbers_as_pytorch():
    for a, b in ((1.0, 1.1), (1, 2), (1, 0), (1.0, 0.0), (1, 1.0), (np.float32(1.0), np.float32(1.1)),
                 (np.float32(1.0), 1.0), (float("inf"), float("inf")), (True, False), (True, True), (None, None),
                 (1 + 2j, 1 + 2j)):
        _same_verdict(a, b, a, b)
    _same_verdict(float("nan"), float("nan"), float("nan"), float("nan"), equal_nan=True)
    _same_verdict(1.0, 2.0, 1.0, 2.0, rtol=0.1, atol=0)
    _same_verdict(1, 1.0, 1, 1.0, check_dtype=False)
    _same_verdict(None, ember.tensor(1.0), None, torch.tensor(1.0))


def test_assert_close_numpy_arrays_as_pytorch():
    _same_verdict(np.array([1.0]), np.array([1.2]), np.array([1.0]), np.array([1.2]))
    _same_verdict(np.array(1.0), np.array(2.0), np.array(1.0), np.array(2.0))
    _same_verdict(np.array([1, 2], np.int32), np.array([1, 2], np.int32), np.array([1, 2], np.int32),
                  np.array([1, 2], np.int32))


def test_assert_close_nesting_as_pytorch():
    def nest(lib, last):
        return [[lib.tensor(1.0)], {"x": [lib.tensor(1.0), lib.tensor(last)]}]

    _same_verdict(nest(ember, 3.0), nest(ember, 2.0), nest(torch, 3.0), nest(torch, 2.0))
    _same_verdict(nest(ember, 2.0), nest(ember, 2.0), nest(torch, 2.0), nest(torch, 2.0))
    _same_verdict([ember.tensor([1.0])], [ember.tensor([1.0, 2.0])], [torch.tensor([1.0])],
                  [torch.tensor([1.0, 2.0])])
    _same_verdict({"a": ember.tensor(1.0)}, {"b": ember.tensor(2.0)}, {"a": torch.tensor(1.0)},
                  {"b": torch.tensor(2.0)})
    _same_verdict({"b": 1, "a": 2}, {"b": 4, "a": 3}, {"b": 1, "a": 2}, {"b": 4, "a": 3})  # sorted keys: 'a' first
    _same_verdict({"c": 1, "a": 2}, {"d": 1, "b": 2}, {"c": 1, "a": 2}, {"d": 1, "b": 2})
    _same_verdict([1, 2], [1], [1, 2], [1])
    _same_verdict([1, 2], (1, 2), [1, 2], (1, 2))
    # the structure is checked before any value: the length mismatch is reported, not the first item's value
    _same_verdict([ember.tensor([1.0]), [1, 2]], [ember.tensor([2.0]), [1]], [torch.tensor([1.0]), [1, 2]],
                  [torch.tensor([2.0]), [1]])


def test_assert_close_refuses_unrelated_kinds_as_pytorch():
    for ours, theirs in (((ember.tensor([1.0]), np.array([1.0])), (torch.tensor([1.0]), np.array([1.0]))),
                         ((ember.tensor(1.0), 1.0), (torch.tensor(1.0), 1.0)),
                         (([1, 2], ember.tensor([1, 2])), ([1, 2], torch.tensor([1, 2]))),
                         (("a", "a"), ("a", "a")), (({"a": 1}, [1]), ({"a": 1}, [1]))):
        _same_verdict(*ours, *theirs)
    p = ember.nn.Parameter(ember.tensor([1.0]))
    assert _message(assert_close, p, ember.tensor([1.0])) is None
    assert _message(assert_close, p, ember.tensor([1.0]), allow_subclasses=False)[0] is TypeError


def test_assert_close_msg_and_tolerance_arguments():
    a, b = [ember.tensor([1.0])], [ember.tensor([2.0])]
    ta, tb = [torch.tensor([1.0])], [torch.tensor([2.0])]
    _same_verdict(a, b, ta, tb, msg="custom")
    _same_verdict(a, b, ta, tb, msg=lambda m: "<" + m + ">")
    _same_verdict(a[0], b[0], ta[0], tb[0], rtol=1e-3)
    _same_verdict(a[0], b[0], ta[0], tb[0], atol=1e-3)
    with pytest.raises(ValueError, match="rtol must be a non-negative number, got -1"):
        assert_close(a, a, rtol=-1, atol=0)


def test_assert_close_ignores_requires_grad_and_refuses_graph_values():
    assert_close(ember.tensor([1.0, 2.0], requires_grad=True) * 1, ember.tensor([1.0, 2.0]))
    g = ember.graph.Graph()
    with g.building():
        v = g.input("v", (2,), "float32")
        with pytest.raises(TypeError, match="graph value"):
            assert_close(v, v)


@pytest.mark.parametrize("dtype, low, high", [
    ("float32", -9, 9), ("float64", -9, 9), ("float16", -9, 9), ("bfloat16", -9, 9), ("int64", -9, 9),
    ("int32", -9, 9), ("int8", -9, 9), ("uint8", 0, 9), ("bool", 0, 1),
])
def test_make_tensor_default_ranges_as_pytorch(dtype, low, high):
    ours = make_tensor(4000, dtype=dtype, device="cpu").numpy().astype(np.float64)
    theirs = TT.make_tensor(4000, dtype=getattr(torch, dtype), device="cpu").double().numpy()
    for values in (ours, theirs):
        assert low <= values.min() and values.max() <= high
        assert values.min() < low + 1 and values.max() > high - 1  # the range is covered
    assert make_tensor(3, dtype=dtype, device="cpu").dtype == ember.testing.make_tensor(3, dtype=dtype,
                                                                                       device="cpu").dtype


def test_make_tensor_bounds_clamped_and_rounded_as_pytorch():
    # (dtype, low, high, the range every value lies in)
    for dtype, low, high, lo, hi in (("int8", -1000, 1000, -128, 127), ("int32", 0.5, 3.6, 1, 3),
                                     ("float32", 0.5, 0.6, 0.5, 0.6), ("float16", -1e6, 1e6, -65504, 65504),
                                     ("bool", 0, 1, 0, 0)):
        ours = make_tensor(3000, dtype=dtype, device="cpu", low=low, high=high).numpy().astype(np.float64)
        theirs = TT.make_tensor(3000, dtype=getattr(torch, dtype), device="cpu", low=low, high=high).double().numpy()
        for values in (ours, theirs):
            assert lo <= values.min() and values.max() <= hi, (dtype, values.min(), values.max())
            assert values.min() - lo <= 0.01 * (hi - lo) + 1e-9 and hi - values.max() <= 0.01 * (hi - lo) + 1e-9
    x = make_tensor(3000, dtype="float32", device="cpu", low=float("-inf")).numpy()  # low clamped to finfo.min
    assert np.isfinite(x).all() and x.min() >= np.finfo(np.float32).min and x.max() <= 9
    assert np.median(x) < -1e38  # uniform over [finfo.min, 9]: nearly all of it far below zero


def test_make_tensor_shape_flags_and_grad():
    assert make_tensor((2, 3), dtype="float32", device="cpu").shape == (2, 3)
    assert make_tensor([2, 3], dtype="int64", device="cpu").shape == (2, 3)
    assert make_tensor(dtype="float32", device="cpu").shape == ()
    x = make_tensor(3, 4, dtype="float32", device="cpu", noncontiguous=True)
    assert x.shape == (3, 4) and not x.is_contiguous()
    assert make_tensor(1, dtype="float32", device="cpu", noncontiguous=True).is_contiguous()
    y = make_tensor(3, dtype="float64", device="cpu", requires_grad=True)
    assert y.requires_grad and y.is_leaf
    (y * 2).sum().backward()
    assert np.array_equal(y.grad.numpy(), [2.0, 2.0, 2.0])


def test_make_tensor_exclude_zero_as_pytorch():
    for dtype in ("float32", "float64", "int64", "uint8", "bool"):
        tdtype = getattr(torch, dtype)
        ours = make_tensor(4, dtype=dtype, device="cpu", low=0, high=1, exclude_zero=True)
        theirs = TT.make_tensor(4, dtype=tdtype, device="cpu", low=0, high=1, exclude_zero=True)
        if dtype.startswith("float"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                ours = make_tensor(4, dtype=dtype, device="cpu", low=0, high=0, exclude_zero=True)
                theirs = TT.make_tensor(4, dtype=tdtype, device="cpu", low=0, high=0, exclude_zero=True)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_make_tensor_errors_and_warnings_as_pytorch():
    cases = [dict(dtype="float32", low=2, high=1), dict(dtype="int64", low=2, high=2),
             dict(dtype="float32", low=float("nan")), dict(dtype="float32", high=-30),
             dict(dtype="int64", requires_grad=True)]
    for kwargs in cases:
        tk = dict(kwargs, dtype=getattr(torch, kwargs["dtype"]))
        ours, theirs = _message(make_tensor, 3, device="cpu", **kwargs), _message(TT.make_tensor, 3, device="cpu",
                                                                                  **tk)
        assert ours == (theirs[0], _torch_names(theirs[1])), kwargs
    with pytest.warns(FutureWarning, match="low==high"):
        x = make_tensor(3, dtype="float32", device="cpu", low=2, high=2)
    assert x.tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(TypeError, match="missing 1 required keyword-only argument: 'device'"):
        make_tensor(3, dtype="float32")
    with pytest.raises(TypeError, match="uint32"):
        make_tensor(3, dtype=np.uint32, device="cpu")
    with pytest.raises(TypeError, match="make_tensor: shape"):
        make_tensor((2,), 3, dtype="float32", device="cpu")
