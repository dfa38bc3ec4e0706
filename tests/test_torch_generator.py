"""``ember.Generator`` and the ``generator=`` arguments (PyTorch's ``torch.Generator`` idioms): reproducible
draws that leave the global generator alone."""

import numpy as np
import pytest

import ember


def _draws(g):
    return [ember.rand(3, generator=g).tolist(), ember.randn(2, generator=g).tolist(),
            ember.randint(0, 100, (4,), generator=g).tolist(), ember.randperm(6, generator=g).tolist(),
            ember.normal(0.0, 1.0, (2,), generator=g).tolist(),
            ember.bernoulli(ember.full((5,), 0.5), generator=g).tolist(),
            ember.multinomial(ember.ones(6), 3, generator=g).tolist(),
            ember.poisson(ember.full((3,), 2.0), generator=g).tolist(),
            ember.binomial(ember.full((3,), 5.0), ember.full((3,), 0.5), generator=g).tolist()]


def test_seeded_generators_repeat_and_leave_the_global_one_alone():
    ember.manual_seed(7)
    expected_global = ember.rand(4).tolist()
    ember.manual_seed(7)
    first = _draws(ember.Generator().manual_seed(123))
    assert ember.rand(4).tolist() == expected_global  # the global stream did not move
    assert _draws(ember.Generator().manual_seed(123)) == first
    assert _draws(ember.Generator().manual_seed(124)) != first


def test_generator_api():
    g = ember.Generator()
    assert g.manual_seed(5) is g and g.initial_seed() == 5 and str(g.device) == "cpu"
    state = g.get_state()
    assert state.dtype == ember.uint8
    a = ember.rand(3, generator=g).tolist()
    assert g.set_state(state) is g and ember.rand(3, generator=g).tolist() == a
    assert ember.Generator().manual_seed(-1).initial_seed() == 2**64 - 1
    fresh = g.seed()
    assert g.initial_seed() == fresh
    with pytest.raises(TypeError, match="manual_seed: seed must be an int"):
        g.manual_seed(1.5)
    with pytest.raises(TypeError, match="set_state: expected the uint8 tensor"):
        g.set_state(ember.ones(3))
    with pytest.raises(TypeError, match="generator must be None, an ember.Generator"):
        ember.rand(2, generator="seed")


def test_default_generator_is_the_global_one():
    ember.default_generator.manual_seed(11)
    assert ember.initial_seed() == 11 == ember.default_generator.initial_seed()
    a = ember.rand(3).tolist()
    ember.manual_seed(11)
    assert ember.rand(3, generator=ember.default_generator).tolist() == a


def test_data_and_fills_take_a_generator():
    data = ember.utils.data.TensorDataset(ember.arange(20))

    def split(seed):
        parts = ember.utils.data.random_split(data, [0.75, 0.25], generator=ember.Generator().manual_seed(seed))
        return [list(p.indices) for p in parts]

    def shuffled(seed):
        loader = ember.utils.data.DataLoader(data, batch_size=5, shuffle=True,
                                             generator=ember.Generator().manual_seed(seed))
        return [b[0].tolist() for b in loader]

    assert split(42) == split(42) != split(43) and shuffled(1) == shuffled(1) != shuffled(2)
    fills = []
    for _ in range(2):
        g = ember.Generator().manual_seed(3)
        t = ember.empty(4)
        fills.append([t.uniform_(generator=g).tolist(), t.normal_(generator=g).tolist(),
                      t.bernoulli_(0.5, generator=g).tolist(), t.exponential_(generator=g).tolist(),
                      t.random_(0, 10, generator=g).tolist(), t.cauchy_(generator=g).tolist()])
    assert fills[0] == fills[1]
    inits = []
    for _ in range(2):
        g = ember.Generator().manual_seed(9)
        w = ember.empty(4, 6)
        inits.append([ember.nn.init.kaiming_normal_(w, generator=g).tolist(),
                      ember.nn.init.xavier_uniform_(w, generator=g).tolist(),
                      ember.nn.init.trunc_normal_(w, generator=g).tolist(),
                      ember.nn.init.orthogonal_(w, generator=g).tolist()])
    assert inits[0] == inits[1]
    np.testing.assert_allclose(np.asarray(inits[0][3]) @ np.asarray(inits[0][3]).T, np.eye(4), atol=1e-5)


def test_a_generator_inside_a_trace_is_refused():
    @ember.jit
    def noisy(x):
        return x + ember.rand(3, generator=ember.Generator().manual_seed(0))

    with pytest.raises(TypeError, match="rand: generator= is not supported while ember.jit traces"):
        noisy(ember.ones(3))


def test_randint_two_argument_form_as_torch():
    torch = pytest.importorskip("torch")
    assert ember.randint(10, (3, 2)).shape == tuple(torch.randint(10, (3, 2)).shape) == (3, 2)
    assert ember.randint(5, size=(4,)).shape == (4,)
    # the keyword form failed: randint() missing 1 required positional argument: 'low'
    assert ember.randint(high=5, size=(3,)).shape == tuple(torch.randint(high=5, size=(3,)).shape) == (3,)
    assert set(ember.randint(high=2, size=(200,)).tolist()) == {0, 1}
    drawn = ember.randint(3, ember.Size([50]), generator=ember.Generator().manual_seed(0))
    assert 0 <= int(drawn.min()) and int(drawn.max()) < 3


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "complex64"])
def test_uniform_draws_stay_below_one_in_every_dtype(dtype):
    # a float64 uniform rounded to float16 reached 1.0 once in 4096 draws (bfloat16: once in 512)
    ember.manual_seed(0)
    n = 1 << 16
    fills = [ember.rand(n, dtype=dtype), ember.zeros(n, dtype=dtype).uniform_()]

    @ember.jit
    def traced(x):
        return x + ember.rand(n, dtype=dtype)

    if dtype != "complex64":
        fills.append(traced(ember.zeros(n, dtype=dtype)))
    for fill in fills:
        values = fill.numpy()
        for part in (values.real, values.imag) if dtype == "complex64" else (values,):
            part = part.astype(np.float64)
            assert part.min() >= 0.0 and part.max() < 1.0
            assert abs(part.mean() - 0.5) < 0.01


@pytest.mark.parametrize("call, error, message", [
    (lambda: ember.randint(0, 100000, (5,), dtype="float16"), ValueError, "does not fit dtype float16"),
    (lambda: ember.randint_like(ember.zeros(3, dtype="float16"), 3, 100000), ValueError, "does not fit dtype float16"),
    (lambda: ember.randint(0.5, 3.7, (3,)), TypeError, "randint: low must be an int"),
    (lambda: ember.randperm(300, dtype="int8"), ValueError, "randperm: n=300 does not fit dtype int8"),
    (lambda: ember.randperm(5000, dtype="float16"), ValueError, "randperm: n=5000 does not fit dtype float16"),
    (lambda: ember.randperm(3, dtype="bool"), TypeError, "randperm: needs an integer or floating dtype"),
])
def test_randint_and_randperm_refuse_ranges_their_dtype_does_not_hold(call, error, message):
    # randint's float16 draws above 65504 came out inf; randperm(300, int8) wrapped into repeated values
    with pytest.raises(error, match=message):
        call()


def test_randint_and_randperm_reach_the_edges_of_their_dtype():
    assert ember.randperm(2049, dtype="float16").numpy().astype(np.int64).tolist().count(2048) == 1
    assert sorted(ember.randperm(128, dtype="int8").numpy().tolist()) == list(range(128))
    drawn = ember.randint(-2048, 2049, (20000,), dtype="float16").numpy()
    assert drawn.min() >= -2048 and drawn.max() <= 2048 and np.all(np.isfinite(drawn))


def test_seeds_and_state_round_trips_as_torch():
    torch = pytest.importorskip("torch")
    # manual_seed(-1) raised from NumPy after setting initial_seed() to -1; PyTorch takes it modulo 2**64
    for seed in (-1, -(2 ** 63), 2 ** 64 - 1):
        ember.manual_seed(seed)
        assert ember.initial_seed() == torch.manual_seed(seed).initial_seed()
        assert ember.Generator().manual_seed(seed).initial_seed() == torch.Generator().manual_seed(seed).initial_seed()
    with pytest.raises(ValueError, match="manual_seed: seed must be in"):
        ember.manual_seed(2 ** 64)
    # set_state brings the initial seed back, as PyTorch's
    state = ember.Generator().manual_seed(7).get_state()
    assert ember.Generator().set_state(state).initial_seed() == 7
    ember.manual_seed(3)
    saved = ember.get_rng_state()
    ember.manual_seed(5)
    ember.set_rng_state(saved)
    assert ember.initial_seed() == 3
    # the default generator's state covers dropout's stream too, as torch.default_generator's covers all CPU draws
    ember.manual_seed(0)
    saved = ember.default_generator.get_state()
    first = [ember.rand(3).numpy(), ember.nn.functional.dropout(ember.ones(64), 0.5).numpy()]
    ember.default_generator.set_state(saved)
    second = [ember.rand(3).numpy(), ember.nn.functional.dropout(ember.ones(64), 0.5).numpy()]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    # a state of another Generator sets the global draws and leaves the stream alone
    ember.default_generator.set_state(ember.Generator().manual_seed(9).get_state())
    expected = ember.rand(4, generator=ember.Generator().manual_seed(9)).numpy()
    np.testing.assert_array_equal(ember.rand(4).numpy(), expected)


def test_manual_seed_returns_the_default_generator_as_torch():
    # it returned None, so g = ember.manual_seed(0); g.initial_seed() failed with an AttributeError
    g = ember.manual_seed(11)
    assert g is ember.default_generator and g.initial_seed() == 11
    first = ember.rand(3, generator=g).numpy()
    ember.manual_seed(11)
    np.testing.assert_array_equal(ember.rand(3).numpy(), first)


def test_a_new_generator_starts_from_torchs_default_seed():
    # each new Generator drew from fresh OS entropy, so two unseeded ones differed where PyTorch's repeat
    torch = pytest.importorskip("torch")
    assert ember.Generator().initial_seed() == torch.Generator().initial_seed() == 67280421310721
    np.testing.assert_array_equal(ember.rand(5, generator=ember.Generator()).numpy(),
                                  ember.rand(5, generator=ember.Generator()).numpy())


def test_set_rng_state_takes_the_default_generators_state_tensor_as_torch():
    # torch.set_rng_state(torch.default_generator.get_state()) failed: the tensor went through dict()
    ember.manual_seed(4)
    saved = ember.default_generator.get_state()
    first = [ember.rand(3).numpy(), ember.nn.functional.dropout(ember.ones(64), 0.5).numpy()]
    ember.manual_seed(9)
    ember.set_rng_state(saved)
    assert ember.initial_seed() == 4
    second = [ember.rand(3).numpy(), ember.nn.functional.dropout(ember.ones(64), 0.5).numpy()]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="set_state: expected the uint8 tensor"):
        ember.set_rng_state(ember.ones(3))


def test_the_like_samplers_take_generator_and_requires_grad_as_torch():
    # rand_like(x, generator=g) and randn_like(x, requires_grad=True), PyTorch's keywords, were TypeErrors
    torch = pytest.importorskip("torch")
    x = ember.zeros(2, 3, dtype="float64")
    for name in ("rand_like", "randn_like"):
        fn = getattr(ember, name)
        a = fn(x, generator=ember.Generator().manual_seed(1)).numpy()
        np.testing.assert_array_equal(a, fn(x, generator=ember.Generator().manual_seed(1)).numpy())
        made = fn(x, requires_grad=True)
        reference = getattr(torch, name)(torch.zeros(2, 3, dtype=torch.float64), requires_grad=True)
        assert made.requires_grad and reference.requires_grad and made.dtype == np.float64
    drawn = ember.randint_like(x, 3, generator=ember.Generator().manual_seed(2)).numpy()
    np.testing.assert_array_equal(drawn, ember.randint_like(x, 3, generator=ember.Generator().manual_seed(2)).numpy())
    assert set(np.unique(drawn)) <= {0.0, 1.0, 2.0}


def test_randint_like_takes_high_and_low_as_keywords_as_pytorch():
    # randint_like(x, high=5), PyTorch's keyword form, was a TypeError (low was required)
    x = ember.zeros(1000, dtype="int32")
    only_high = ember.randint_like(x, high=5).numpy()
    assert only_high.dtype == np.int32 and set(np.unique(only_high)) == {0, 1, 2, 3, 4}
    both = ember.randint_like(x, low=3, high=5).numpy()
    assert set(np.unique(both)) == {3, 4}
    with pytest.raises(TypeError, match="randint: needs high"):
        ember.randint_like(x)
