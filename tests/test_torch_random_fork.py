"""``ember.random.fork_rng`` against ``torch.random.fork_rng``: draws inside the block leave the ones after it and
``initial_seed`` as they were; ``enabled=False``; a decorator; the state comes back after an exception."""

import pytest

import ember
from ember.nn import functional as F

torch = pytest.importorskip("torch")


def _draws(lib):
    return lib.rand(3).tolist(), (F if lib is ember else torch.nn.functional).dropout(lib.ones(16), 0.5).tolist()


@pytest.mark.parametrize("lib", [ember, torch], ids=["ember", "torch"])
def test_fork_rng_restores_the_state_and_initial_seed(lib):
    lib.manual_seed(1)
    with lib.random.fork_rng():
        inside = _draws(lib)
        lib.manual_seed(3)
        _draws(lib)
    after = _draws(lib)
    assert inside == after and lib.initial_seed() == 1
    lib.manual_seed(1)
    with lib.random.fork_rng(enabled=False):
        _draws(lib)
    assert _draws(lib) != after


@pytest.mark.parametrize("lib", [ember, torch], ids=["ember", "torch"])
def test_fork_rng_as_decorator_and_after_an_exception(lib):
    @lib.random.fork_rng(devices=[])
    def draw():
        return lib.rand(2).tolist()

    assert draw() == draw()
    lib.manual_seed(5)
    with pytest.raises(KeyError), lib.random.fork_rng():
        lib.rand(4)
        raise KeyError("inside")
    first = lib.rand(2).tolist()
    lib.manual_seed(5)
    assert lib.rand(2).tolist() == first
