"""StackDataset against torch.utils.data.StackDataset, and through Ember's DataLoader."""

import pytest

import ember
from ember.data import DataLoader, StackDataset, TensorDataset

torch = pytest.importorskip("torch")


def test_tuple_and_dict_samples_match_torch():
    ours = StackDataset(TensorDataset(ember.arange(3)), [10, 20, 30])
    theirs = torch.utils.data.StackDataset(torch.utils.data.TensorDataset(torch.arange(3)), [10, 20, 30])
    assert len(ours) == len(theirs) == 3
    (first,), second = ours[1]
    assert (first.item(), second) == (theirs[1][0][0].item(), theirs[1][1]) == (1, 20)
    named = StackDataset(a=ember.arange(3), b=[5, 6, 7])
    assert {k: int(v) for k, v in named[2].items()} == {"a": 2, "b": 7}
    assert [{k: int(v) for k, v in s.items()} for s in named.__getitems__([0, 1])] == [
        {k: int(v) for k, v in s.items()}
        for s in torch.utils.data.StackDataset(a=torch.arange(3), b=[5, 6, 7]).__getitems__([0, 1])]
    assert [tuple(int(v) for v in s) for s in StackDataset([1, 2], [3, 4]).__getitems__([1, 0])] == [(2, 4), (1, 3)]
    assert ember.utils.data.StackDataset is StackDataset


def test_stack_dataset_batches_through_the_data_loader():
    data = StackDataset(x=ember.arange(6.0).reshape(6, 1), y=ember.arange(6))
    batches = list(DataLoader(data, batch_size=4))
    assert batches[0]["x"].shape == (4, 1) and batches[1]["y"].tolist() == [4, 5]


@pytest.mark.parametrize(("args", "kwargs", "message"), [
    ((), {}, "at least one dataset must be passed"),
    (([1, 2],), {"x": [1, 2]}, "either positionally"),
    (([1, 2], [1, 2, 3]), {}, "the datasets' sizes differ: {0: 2, 1: 3}"),
])
def test_stack_dataset_refuses_bad_arguments(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        StackDataset(*args, **kwargs)
