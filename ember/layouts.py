"""PyTorch's tensor layouts (``torch.strided``, ``torch.sparse_coo``, ``torch.sparse_csr``, ``torch.sparse_csc``):
what ``Tensor.layout`` and the sparse tensors' ``layout`` answer. Each is also its name as a string, so
``x.layout == "sparse_csr"`` holds.

>>> ember.tensor([[0.0, 1.0]]).to_sparse_csr().layout
ember.sparse_csr
"""

from __future__ import annotations

__all__ = ["Layout", "sparse_coo", "sparse_csc", "sparse_csr", "strided"]


class Layout(str):
    """A tensor layout, printed as ``ember.<name>``."""

    def __repr__(self) -> str:
        return f"ember.{str.__str__(self)}"

    __str__ = __repr__


strided = Layout("strided")
sparse_coo = Layout("sparse_coo")
sparse_csr = Layout("sparse_csr")
sparse_csc = Layout("sparse_csc")
