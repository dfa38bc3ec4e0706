"""PyTorch's runtime settings and helpers at Ember's top level, against torch: the default dtype, print options,
seeds, thread counts, deterministic mode, matmul precision, dtype promotion, broadcasting, inference mode and
``typename``."""

import types

import numpy as np
import pytest

import ember
from ember import nn

torch = pytest.importorskip("torch")

DTYPES = ["bool", "uint8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64"]


@pytest.fixture
def default_dtype():
    """Run a test under each side's default dtype set alike, restoring float32 after."""
    def set_both(name: str):
        ember.set_default_dtype(getattr(ember, name))
        torch.set_default_dtype(getattr(torch, name))

    yield set_both
    ember.set_default_dtype(ember.float32)
    torch.set_default_dtype(torch.float32)


def _same(ours, theirs) -> None:
    assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch."), (ours.dtype, theirs.dtype)


@pytest.mark.parametrize("name", ["float64", "float16", "bfloat16", "float32"])
def test_default_dtype_reaches_creation_scalars_and_layers_as_torch(default_dtype, name):
    default_dtype(name)
    assert ember.get_default_dtype() == getattr(ember, name)
    pairs = [
        (ember.tensor(1.0), torch.tensor(1.0)),
        (ember.tensor([1, 2.5]), torch.tensor([1, 2.5])),
        (ember.tensor([1, 2]), torch.tensor([1, 2])),
        (ember.zeros(2), torch.zeros(2)),
        (ember.ones(2, 3), torch.ones(2, 3)),
        (ember.full((2,), 1.5), torch.full((2,), 1.5)),
        (ember.rand(3), torch.rand(3)),
        (ember.randn(3), torch.randn(3)),
        (ember.arange(0, 1, 0.25), torch.arange(0, 1, 0.25)),
        (ember.arange(4), torch.arange(4)),
        (ember.linspace(0, 1, 5), torch.linspace(0, 1, 5)),
        (ember.eye(2), torch.eye(2)),
        (ember.tensor([1, 2]) * 1.5, torch.tensor([1, 2]) * 1.5),
        (ember.tensor([1, 2]) / 2, torch.tensor([1, 2]) / 2),
        (ember.tensor([True]) + 0.5, torch.tensor([True]) + 0.5),
        (ember.tensor(np.ones(2, np.float32)), torch.tensor(np.ones(2, np.float32))),
        (nn.Linear(2, 3).weight, torch.nn.Linear(2, 3).weight),
        (nn.Conv2d(1, 2, 3).bias, torch.nn.Conv2d(1, 2, 3).bias),
        (nn.LayerNorm(4).weight, torch.nn.LayerNorm(4).weight),
        (nn.BatchNorm1d(4).running_mean, torch.nn.BatchNorm1d(4).running_mean),
        (nn.PReLU().weight, torch.nn.PReLU().weight),
        (nn.Embedding(5, 2).weight, torch.nn.Embedding(5, 2).weight),
        (nn.Parameter(), torch.nn.Parameter()),
        (nn.Transformer.generate_square_subsequent_mask(3), torch.nn.Transformer.generate_square_subsequent_mask(3)),
    ]
    for ours, theirs in pairs:
        _same(ours, theirs)


def test_default_dtype_float64_trains_a_layer_in_float64(default_dtype):
    default_dtype("float64")
    layer = nn.Linear(3, 2)
    loss = layer(ember.randn(4, 3)).sum()
    loss.backward()
    assert loss.dtype == np.float64 and layer.weight.grad.dtype == np.float64


def test_set_default_dtype_refuses_non_floating_dtypes(default_dtype):
    with pytest.raises(TypeError):
        torch.set_default_dtype(torch.int64)
    with pytest.raises(TypeError, match="set_default_dtype.*floating.*int64"):
        ember.set_default_dtype(ember.int64)
    assert ember.get_default_dtype() == ember.float32


def test_repr_shows_dtype_only_when_it_is_not_the_default(default_dtype):
    default_dtype("float64")
    assert repr(ember.tensor([1.5, 2.0])) == "tensor([1.5000, 2.0000])"
    assert repr(ember.tensor([1.5, 2.0], dtype=ember.float32)) == "tensor([1.5000, 2.0000], dtype=float32)"


def _torch_repr(t) -> str:
    return repr(t).replace("torch.", "")


REPR_ARRAYS = [
    np.array([1 + 1j] * 7),  # one line: its dtype suffix wraps once "tensor(" counts in the line
    np.array([12 + 1j] * 1001),
    np.array([1.5, 2.0], np.float32),
    np.array([1.0, 2.0], np.float32),
    np.array([[1.123456, 2], [3, 4]], np.float32),
    np.array([1e-5, 1.0], np.float32),
    np.array([0.1, -1e5], np.float32),
    np.array([1e9, 1.0], np.float32),
    np.array([np.nan, 1.5, np.inf], np.float32),
    np.array(3.25, np.float32),
    np.array([1, 2, 3]),
    np.array([True, False]),
    np.array([-0.5, 200.25], np.float32),
    np.array([np.nan, 1.0, 2.0], np.float32),  # the width comes from the finite non-zero values alone
    np.array([-0.0, 1.0], np.float32),
    np.zeros((0, 3), np.float32),  # an empty tensor names its size, and its dtype unless the default float
    np.zeros((0,), np.int64),
    np.array([1 + 2j, 3 - 4.5j], np.complex64),  # the default complex dtype, each part formatted alone
    np.array([[1e-6 + 1j, 2.5]], np.complex128),
    np.arange(30).reshape(3, 1, 10) * 9001,  # as many elements on a line as PyTorch fits, not NumPy's wrap
    np.linspace(-3, 3, 28, dtype=np.float32).reshape(2, 14),
    np.arange(2000, dtype=np.float32).reshape(40, 50) / 7,
]


@pytest.mark.parametrize("array", REPR_ARRAYS, ids=range(len(REPR_ARRAYS)))
def test_repr_matches_torch(array):
    assert repr(ember.tensor(array)) == _torch_repr(torch.tensor(array))


@pytest.fixture
def printoptions():
    yield
    ember.set_printoptions(profile="default")
    torch.set_printoptions(profile="default")


@pytest.mark.parametrize("options", [
    {"precision": 2},
    {"precision": 6},
    {"sci_mode": True},
    {"sci_mode": False, "precision": 3},
    {"profile": "short"},
    {"profile": "short", "precision": 5},
], ids=str)
def test_set_printoptions_changes_repr_as_torch(printoptions, options):
    ember.set_printoptions(**options)
    torch.set_printoptions(**options)
    for array in (np.array([1.123456, -2.5, 3e-3], np.float32), np.array([[1.0, 2.0], [3.5, 4.25]], np.float64),
                  np.array([12345.678, 0.5], np.float32)):
        assert repr(ember.tensor(array)) == _torch_repr(torch.tensor(array)), options


def test_threshold_edgeitems_and_linewidth_summarize_as_torch(printoptions):
    ember.set_printoptions(threshold=5, edgeitems=2)
    torch.set_printoptions(threshold=5, edgeitems=2)
    assert repr(ember.arange(10)) == _torch_repr(torch.arange(10))
    ember.set_printoptions(threshold=5, edgeitems=0)
    torch.set_printoptions(threshold=5, edgeitems=0)
    assert repr(ember.arange(10.0).reshape(2, 5)) == _torch_repr(torch.arange(10.0).reshape(2, 5))
    ember.set_printoptions(profile="full")
    assert "..." not in repr(ember.arange(2000))
    ember.set_printoptions(profile="default", linewidth=30)
    assert max(len(line) for line in repr(ember.arange(40)).splitlines()) <= 30
    assert ember.get_printoptions() == {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 30,
                                        "sci_mode": None}


def test_set_printoptions_refuses_bad_values(printoptions):
    with pytest.raises(ValueError, match="profile"):
        ember.set_printoptions(profile="long")
    with pytest.raises(ValueError, match="precision"):
        ember.set_printoptions(precision=-1)


def test_seed_and_initial_seed():
    ember.manual_seed(1234)
    assert ember.initial_seed() == 1234
    first = ember.rand(3).tolist()
    chosen = ember.seed()
    assert isinstance(chosen, int) and 0 <= chosen < 2**64 and ember.initial_seed() == chosen
    drawn = ember.rand(3).tolist()
    ember.manual_seed(chosen)
    assert ember.rand(3).tolist() == drawn
    ember.manual_seed(ember.initial_seed())
    assert ember.rand(3).tolist() == drawn
    ember.manual_seed(1234)
    assert ember.rand(3).tolist() == first
    assert ember.seed() != ember.seed()


@pytest.fixture
def thread_settings():
    """Put the thread settings back as they were, unset (the process's own) included."""
    from ember.backend import blas_threads, onednn, runtime_flags

    saved = (runtime_flags._threads, runtime_flags._interop_threads, onednn.threads(), onednn._blas_before,
             blas_threads.outside_regions())
    yield
    runtime_flags._threads, runtime_flags._interop_threads, _, onednn._blas_before, _ = saved
    onednn.set_threads(saved[2])
    blas_threads.set_outside_regions(saved[4])


def test_num_threads_set_blas_onednn_and_the_runtime(thread_settings, monkeypatch):
    from ember.backend import blas_threads, onednn
    from ember.runtime import parallel

    monkeypatch.setenv("OMP_NUM_THREADS", "5")
    assert ember.get_num_threads() == parallel.num_threads() == 5 == ember.get_num_interop_threads()
    ember.set_num_threads(1)
    assert ember.get_num_threads() == 1 and parallel.num_threads() == 1 and onednn.threads() == 1
    if blas_threads.available():
        assert blas_threads.outside_regions() == 1
    ember.set_num_threads(2)
    assert ember.get_num_threads() == 2 and parallel.num_threads() == 2
    ember.set_num_interop_threads(3)
    assert ember.get_num_interop_threads() == 3
    if blas_threads.available():  # while oneDNN holds the cores OpenBLAS stays on one thread, then gets the count
        onednn._blas_before = 4
        blas_threads.set_outside_regions(1)
        ember.set_num_threads(3)
        assert blas_threads.outside_regions() == 1 and onednn.threads() == 3
        onednn.release_cores()
        assert blas_threads.outside_regions() == 3
    for bad in (0, -1, 1.5, True):
        with pytest.raises(RuntimeError, match="set_num_threads"):
            ember.set_num_threads(bad)
        with pytest.raises(RuntimeError, match="set_num_interop_threads"):
            ember.set_num_interop_threads(bad)
    with pytest.raises(RuntimeError):
        torch.set_num_threads(0)


@pytest.fixture
def deterministic():
    yield
    ember.use_deterministic_algorithms(False)


def test_deterministic_flags_as_torch(deterministic):
    assert not ember.are_deterministic_algorithms_enabled()
    for mode, warn_only in ((True, False), (True, True), (False, False)):
        ember.use_deterministic_algorithms(mode, warn_only=warn_only)
        torch.use_deterministic_algorithms(mode, warn_only=warn_only)
        assert ember.are_deterministic_algorithms_enabled() == torch.are_deterministic_algorithms_enabled() == mode
        assert ember.is_deterministic_algorithms_warn_only_enabled() == \
            torch.is_deterministic_algorithms_warn_only_enabled() == warn_only
    with pytest.raises(TypeError, match="use_deterministic_algorithms"):
        ember.use_deterministic_algorithms("yes")


class _GpuLike(types.ModuleType):
    """An array module that is not NumPy but computes with it: the GPU branch of a forward, taken on the CPU."""

    def __getattr__(self, name):
        return getattr(np, name)


def _gpu_like():
    return _GpuLike("gpu_like")


def test_atomic_scatter_adds_refuse_on_a_gpu_in_deterministic_mode(deterministic):
    from ember.ops import indexing

    x, src = np.zeros((4, 2), np.float32), np.ones((3, 2), np.float32)
    ids = np.array([0, 2, 2])
    calls = [
        ("index_add", lambda xp: indexing.INDEX_ADD.forward(xp, x, ids, src, axis=0)),
        ("scatter_add", lambda xp: indexing.SCATTER_ADD.forward(xp, x, np.zeros((3, 2), np.int64), src, axis=0)),
        ("embedding_grad", lambda xp: indexing.EMBEDDING_GRAD.forward(xp, src, ids, num_embeddings=4)),
        ("getitem_grad", lambda xp: indexing.GETITEM_GRAD.forward(xp, src, shape=(4, 2), index=(ids,))),
    ]
    ember.use_deterministic_algorithms(True)
    for name, call in calls:
        call(np)  # the CPU kernels are deterministic
        with pytest.raises(RuntimeError, match=f"{name}: on a GPU .*use_deterministic_algorithms"):
            call(_gpu_like())
    ember.use_deterministic_algorithms(True, warn_only=True)
    for name, call in calls:
        with pytest.warns(UserWarning, match=name):
            call(_gpu_like())
    ember.use_deterministic_algorithms(False)
    for _, call in calls:
        call(_gpu_like())


def test_float32_matmul_precision_is_recorded():
    assert ember.get_float32_matmul_precision() == torch.get_float32_matmul_precision() == "highest"
    try:
        for precision in ("high", "medium", "highest"):
            ember.set_float32_matmul_precision(precision)
            assert ember.get_float32_matmul_precision() == precision
    finally:
        ember.set_float32_matmul_precision("highest")
    with pytest.raises(ValueError, match="highest"):
        ember.set_float32_matmul_precision("low")


def test_set_flush_denormal_reports_no_support():
    assert ember.set_flush_denormal(True) is False
    assert ember.set_flush_denormal(False) is False


@pytest.mark.parametrize("a", DTYPES)
def test_promote_types_and_can_cast_match_torch(a):
    for b in DTYPES:
        ta, tb = getattr(torch, a), getattr(torch, b)
        assert str(ember.promote_types(a, b)) == str(torch.promote_types(ta, tb)).removeprefix("torch."), (a, b)
        assert ember.can_cast(a, b) == torch.can_cast(ta, tb), (a, b)


def test_result_type_of_tensors_numbers_and_dtypes_matches_torch():
    cases = [
        (np.array([1, 2]), 1.5), (np.array([1, 2], np.int32), 7), (np.array([True]), 2), (np.array([True]), 2.5),
        (np.array([1.0], np.float16), 2.0), (np.array([1.0], np.float64), np.array([1], np.int32)),
        (np.array([1.0], np.float16), np.array([1.0], np.float32)), (np.array([1], np.uint8), np.array([1], np.int16)),
        (3, 2.5), (3, 4), (True, False), (True, 3),
        # a Python complex was refused as not a Python number
        (np.array([1.0], np.float64), 1j), (np.array([1, 2]), 2j), (1j, np.array([1.0], np.float32)), (1, 1j),
        (1j, 2.5),
    ]
    for a, b in cases:
        ours = ember.result_type(*(ember.tensor(v) if isinstance(v, np.ndarray) else v for v in (a, b)))
        theirs = torch.result_type(*(torch.tensor(v) if isinstance(v, np.ndarray) else v for v in (a, b)))
        assert str(ours) == str(theirs).removeprefix("torch."), (a, b)
    assert ember.result_type(ember.float16, ember.bfloat16) == ember.float32
    with pytest.raises(TypeError, match="result_type"):
        ember.result_type(ember.ones(1), object())


def test_broadcast_shapes_matches_torch():
    for shapes in [((2, 1), (3,)), ((1,), (4, 1, 3), (5, 1)), ((),), (3, (2, 1)), ((0, 1), (3,))]:
        assert ember.broadcast_shapes(*shapes) == tuple(torch.broadcast_shapes(*shapes))
    with pytest.raises(RuntimeError, match=r"broadcast_shapes.*\[2\].*\[3\]"):
        ember.broadcast_shapes((2,), (3,))


def test_broadcast_tensors_values_and_gradients_match_torch():
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in ((2, 1, 3), (4, 1), (3,))]
    ours = [ember.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, ref = ember.broadcast_tensors(*ours), torch.broadcast_tensors(*theirs)
    weights = [rng.standard_normal((2, 4, 3)) for _ in range(3)]
    sum(((o * ember.tensor(w)).sum() for o, w in zip(out, weights)), ember.tensor(0.0)).backward()
    sum((r * torch.tensor(w)).sum() for r, w in zip(ref, weights)).backward()
    for o, r, p, t in zip(out, ref, ours, theirs):
        np.testing.assert_allclose(o.detach().numpy(), r.detach().numpy())
        np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-12)
    with pytest.raises(RuntimeError, match=r"broadcast_tensors.*float64\[2, 1, 3\].*float64\[2\]"):
        ember.broadcast_tensors(ours[0], ember.tensor([1.0, 2.0], dtype=ember.float64))


def test_broadcast_tensors_under_jit():
    @ember.jit
    def f(a, b):
        x, y = ember.broadcast_tensors(a, b)
        return x * y

    a, b = np.arange(3.0, dtype=np.float32).reshape(3, 1), np.arange(4.0, dtype=np.float32)
    expected = (torch.tensor(a) * torch.tensor(b)).numpy()
    for _ in range(2):
        np.testing.assert_array_equal(f(ember.tensor(a), ember.tensor(b)).numpy(), expected)


def test_is_grad_enabled_and_inference_mode_as_torch():
    assert ember.is_grad_enabled() == torch.is_grad_enabled()
    assert ember.is_inference_mode_enabled() == torch.is_inference_mode_enabled() is False
    with ember.inference_mode(), torch.inference_mode():
        assert ember.is_inference_mode_enabled() == torch.is_inference_mode_enabled() is True
        assert ember.is_grad_enabled() == torch.is_grad_enabled() is False
        with ember.inference_mode(False), torch.inference_mode(False):
            assert ember.is_inference_mode_enabled() == torch.is_inference_mode_enabled() is False
            assert ember.is_grad_enabled() == torch.is_grad_enabled() is True  # recorded again, as PyTorch
        assert ember.is_inference_mode_enabled()
    with ember.no_grad(), torch.no_grad():
        assert ember.is_inference_mode_enabled() == torch.is_inference_mode_enabled() is False
        with ember.inference_mode(False), torch.inference_mode(False):
            assert ember.is_grad_enabled() == torch.is_grad_enabled() is True
    assert not ember.is_inference_mode_enabled() and ember.is_grad_enabled()

    @ember.inference_mode
    def inside():
        return ember.is_inference_mode_enabled(), ember.is_grad_enabled()

    assert inside() == (True, False)
    assert not ember.is_inference_mode_enabled()


def test_typename_matches_torch():
    for dtype in ("float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "uint8", "bool"):
        ours, theirs = ember.typename(ember.zeros(2, dtype=dtype)), torch.typename(torch.zeros(2, dtype=getattr(
            torch, dtype)))
        assert ours.removeprefix("ember.") == theirs.removeprefix("torch."), dtype
    assert ember.typename(3) == torch.typename(3) == "int"
    assert ember.typename(np.float64) == "numpy.float64"
    assert ember.typename(nn.Linear(1, 1)) == "ember.nn.layers.linear.Linear"
    assert ember.typename(ember.typename) == "ember.torch_runtime.typename"


def test_a_jit_trace_made_under_another_default_dtype_is_traced_again(default_dtype):
    @ember.jit
    def f(x):
        return x.sum() + ember.ones(2) * 0.5

    x = ember.ones(3, dtype=ember.int64)
    assert f(x).dtype == ember.float32 and f(x).dtype == ember.float32
    default_dtype("float64")
    assert f(x).dtype == ember.float64 == (x.sum() + ember.ones(2) * 0.5).dtype
    assert f.traces == 2
    default_dtype("float32")
    assert f(x).dtype == ember.float32 and f.traces == 2  # the first trace serves again


def test_a_summarized_print_chooses_its_format_from_the_shown_elements_as_torch():
    hidden = np.linspace(1, 2, 3000).astype(np.float32).reshape(30, 100)
    hidden[15, 50] = 1e-7  # not shown: PyTorch's format ignores it (all of it would be scientific)
    ramp = np.linspace(0, 1, 5000).astype(np.float32)
    for array in (hidden, ramp):
        assert repr(ember.tensor(array)) == _torch_repr(torch.tensor(array))


def test_manual_seed_of_the_initial_seed_starts_a_fresh_process_over():
    import subprocess
    import sys

    code = ("import ember\n"
            "x = ember.ones(1000)\n"
            "first = ember.rand(4).tolist(), ember.nn.functional.dropout(x, 0.5).tolist()\n"
            "ember.manual_seed(ember.initial_seed())\n"
            "print(first == (ember.rand(4).tolist(), ember.nn.functional.dropout(x, 0.5).tolist()))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"
