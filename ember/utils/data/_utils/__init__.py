"""``torch.utils.data._utils``: the submodule PyTorch's documentation extends collation through."""

from ember.utils.data._utils import collate  # noqa: F401
