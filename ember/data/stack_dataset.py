"""``StackDataset``: several map-style datasets of one length side by side, a sample being a tuple or a dict of
theirs (``torch.utils.data.StackDataset``)."""

from __future__ import annotations

from ember.data.dataset import Dataset, _items_reader

__all__ = ["StackDataset"]


class StackDataset(Dataset):
    """Datasets of one length stacked: ``StackDataset(a, b)[i]`` is ``(a[i], b[i])`` and
    ``StackDataset(x=a, y=b)[i]`` is ``{"x": a[i], "y": b[i]}`` (positional or keyword datasets, not both).

    >>> pairs = StackDataset(images, labels)
    >>> image, label = pairs[0]
    """

    def __init__(self, *args, **kwargs):
        if args and kwargs:
            raise ValueError("StackDataset: pass the datasets either positionally (tuple samples) or by keyword "
                             "(dict samples), not both")
        if not args and not kwargs:
            raise ValueError("StackDataset: at least one dataset must be passed")
        self.datasets = args or kwargs
        sizes = {name: len(d) for name, d in (kwargs.items() if kwargs else enumerate(args))}
        self._length = next(iter(sizes.values()))
        if any(size != self._length for size in sizes.values()):
            raise ValueError(f"StackDataset: the datasets' sizes differ: {sizes}")

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: int):
        if isinstance(self.datasets, dict):
            return {name: dataset[index] for name, dataset in self.datasets.items()}
        return tuple(dataset[index] for dataset in self.datasets)

    def __getitems__(self, indices: list) -> list:
        """The samples at ``indices`` (each dataset's own ``__getitems__`` reads its part where it has one, and
        a subclass's ``__getitem__`` below it is honoured, as the DataLoader honours it)."""
        named = self.datasets.items() if isinstance(self.datasets, dict) else enumerate(self.datasets)
        columns = {}
        for name, dataset in named:
            getitems = _items_reader(dataset)
            column = getitems(indices) if getitems is not None else [dataset[i] for i in indices]
            if len(column) != len(indices):
                raise ValueError(f"StackDataset: dataset {name!r}'s __getitems__ gave {len(column)} samples for "
                                 f"{len(indices)} indices")
            columns[name] = column
        if isinstance(self.datasets, dict):
            return [{name: column[k] for name, column in columns.items()} for k in range(len(indices))]
        return [tuple(column[k] for column in columns.values()) for k in range(len(indices))]
