"""``ember.max``/``ember.min`` in PyTorch's forms: an argument a form does not take is refused, not ignored."""

import pytest

import ember


def test_max_and_min_refuse_arguments_they_would_ignore():
    with pytest.raises(TypeError, match=r"max\(\) got .*unexpected"):
        ember.tensor([[1.0, 3.0], [4.0, 2.0]]).max(1, True, 0)


def test_max_and_min_write_out_as_pytorch():
    # out=(values, indices) was once ignored: the tensors passed stayed zeros while PyTorch fills them
    x = ember.tensor([[1.0, 3.0], [4.0, 2.0]])
    values, indices = ember.zeros(2), ember.zeros(2, dtype=ember.int64)
    ember.max(x, 1, out=(values, indices))
    assert values.tolist() == [3.0, 4.0] and indices.tolist() == [1, 0]
    assert ember.min(x, dim=0, keepdim=True, out=None).values.tolist() == [[1.0, 2.0]]
    pairwise = ember.zeros(2, 2)
    assert ember.max(x, 2.5 * ember.ones(2, 2), out=pairwise) is pairwise
    assert pairwise.tolist() == [[2.5, 3.0], [4.0, 2.5]]


def test_the_forms_max_and_min_take():
    x = ember.tensor([[1.0, 3.0], [4.0, 2.0]])
    values, indices = ember.max(x, 1, True)
    assert values.tolist() == [[3.0], [4.0]] and indices.tolist() == [[1], [0]]
    assert ember.min(x, dim=0).values.tolist() == [1.0, 2.0]
    assert ember.max(x).item() == 4.0 and ember.min(x, axis=1).tolist() == [1.0, 2.0]
    assert ember.max(x, ember.ones(2) * 2.5).tolist() == [[2.5, 3.0], [4.0, 2.5]]
