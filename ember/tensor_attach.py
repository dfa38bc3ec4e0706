"""Tensor methods whose code lives in modules above ``ember.tensor``, attached to the class here: the one place
that adds methods to ``Tensor`` after its definition. (Methods from modules below it are mixins: ``OpMethods``,
``InplaceMethods``, ``TorchMethods``.) ``ember/__init__.py`` imports this module right after ``ember.tensor``.
"""

from __future__ import annotations

from ember import autograd, creation, creation_torch, csr, layouts, sparse_coo, tensor_legacy
from ember.tensor import Tensor

# the tape (ember.autograd)
Tensor.backward = autograd.backward
Tensor.register_post_accumulate_grad_hook = autograd.register_post_accumulate_grad_hook

# a new tensor with this one's dtype and device (ember.creation)
Tensor.new_zeros = creation.new_zeros
Tensor.new_ones = creation.new_ones
Tensor.new_full = creation.new_full
Tensor.new_empty = creation.new_empty
Tensor.new_tensor = creation.new_tensor
Tensor.new_empty_strided = creation_torch.new_empty_strided

# samples drawn from this tensor's parameters (ember.creation)
Tensor.bernoulli = creation.bernoulli
Tensor.multinomial = creation.multinomial

# sparse COO conversions (ember.sparse_coo); a dense tensor's to_dense() is itself, as in PyTorch
Tensor.to_sparse = sparse_coo.to_sparse
Tensor.to_sparse_coo = sparse_coo.to_sparse
Tensor.to_dense = lambda self, dtype=None: self if dtype is None else self.to(dtype)

# sparse CSR conversions (ember.csr), from dense and COO tensors; a dense tensor's layout
Tensor.to_sparse_csr = csr.to_sparse_csr
sparse_coo.SparseCOOTensor.to_sparse_csr = csr.to_sparse_csr
Tensor.layout = layouts.strided
Tensor.is_sparse_csr = False
# PyTorch's legacy in-place methods on memory and Python callables (ember.tensor_legacy)
Tensor.resize_ = tensor_legacy.resize_
Tensor.resize_as_ = tensor_legacy.resize_as_
Tensor.apply_ = tensor_legacy.apply_
Tensor.map_ = tensor_legacy.map_
Tensor.map2_ = tensor_legacy.map2_
