"""``tf.TensorArray`` over Ember's unrolled ``tf.while_loop``: the array is a list of tensors while the graph is
built, so every index must be known then (a Python int, or a loop counter computed from constants)."""

from __future__ import annotations

import builtins
import operator

import numpy as np

from ember.compat.tf._core import Tensor, as_tf, as_tf_dtype, constant, op, tensors_in

__all__ = ["TensorArray"]


def _static_index(what: str, index) -> int:
    """``index`` as an int: a Python int, or a tensor whose value depends on constants only."""
    if isinstance(index, (list, tuple, np.ndarray)) and not any(isinstance(i, Tensor) for i in index):
        array = np.asarray(index)
        if array.size and array.dtype.kind not in "iu":
            raise TypeError(f"tf.TensorArray.{what}: indices must be integers, got {index!r}")
        return [int(i) for i in array.reshape(-1)]
    if not isinstance(index, Tensor):
        try:
            return operator.index(index)
        except TypeError:
            raise TypeError(f"tf.TensorArray.{what}: an index must be an integer, got {index!r}") from None
    from ember.compat.tf.control_flow_ops import _constant_value

    pending, seen = [index], set()
    while pending:
        t = pending.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        if t.kind in ("Placeholder", "VariableV2"):
            raise ValueError(f"tf.TensorArray.{what}: index '{index.name}' depends on '{t.name}' ({t.kind}), whose "
                             "value is not known while the graph is built; Ember's TensorArray takes indices known "
                             "then (Python ints, loop counters of tf.while_loop)")
        pending.extend(tensors_in((t.args, t.kwargs)))
    value = np.asarray(_constant_value(index, f"tf.TensorArray.{what}", np.asarray))
    if value.dtype.kind not in "iu":
        raise TypeError(f"tf.TensorArray.{what}: an index must be an integer tensor, got dtype {value.dtype}")
    return value.tolist()


class TensorArray:
    """TF-1's TensorArray: ``write``/``unstack``/``scatter`` return the array with the new elements (use the
    returned one, as in TF-1); ``read``, ``stack``, ``gather``, ``concat`` and ``size`` read it. Writing an index
    twice, past the size of an array that is not ``dynamic_size``, or an element of another shape or dtype is an
    error, as is reading an index never written (except in ``stack``/``gather`` with a fully known
    ``element_shape``: zeros) or, with ``clear_after_read`` (the default), read before."""

    def __init__(self, dtype, size=None, dynamic_size=None, clear_after_read=None, tensor_array_name=None,
                 handle=None, flow=None, infer_shape: bool = True, element_shape=None,
                 colocate_with_first_write_call: bool = True, name=None):
        if handle is not None or flow is not None:
            raise ValueError("tf.TensorArray: handle and flow are not supported (Ember's TensorArray is a list of "
                             "tensors while the graph is built)")
        if size is None and not dynamic_size:
            raise ValueError("tf.TensorArray: size must be given unless dynamic_size=True")
        self._dtype = as_tf_dtype(dtype)
        self._size = 0 if size is None else _static_index("size", size)
        if self._size < 0:
            raise ValueError(f"tf.TensorArray: size must be non-negative, got {self._size}")
        self._dynamic = builtins.bool(dynamic_size)
        self._clear_after_read = clear_after_read is None or builtins.bool(clear_after_read)
        self._infer_shape = infer_shape
        self._element_shape = None if element_shape is None else tuple(
            None if d is None or d == -1 else int(d) for d in element_shape)
        self._elements: dict = {}
        self._cleared: set = set()
        self._name = name or tensor_array_name or "TensorArray"

    def _copy(self) -> TensorArray:
        new = object.__new__(TensorArray)
        new.__dict__.update(self.__dict__)
        new._elements, new._cleared = dict(self._elements), set(self._cleared)
        return new

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    @property
    def dynamic_size(self) -> bool:
        return self._dynamic

    @property
    def element_shape(self):
        from ember.compat.tf._core import TensorShape

        return None if self._element_shape is None else TensorShape(self._element_shape)

    def size(self, name=None) -> Tensor:
        """The number of elements (an int32 scalar)."""
        return constant(np.int32(self._size), name=name or f"{self._name}/Size")

    def _put(self, new: TensorArray, i: int, value, what: str) -> None:
        value = as_tf(value)
        if value.dtype is not None and value.dtype != self._dtype:
            raise TypeError(f"tf.TensorArray.{what}: the array's dtype is {self._dtype}, the value '{value.name}' "
                            f"has dtype {value.dtype}")
        if i < 0:
            raise ValueError(f"tf.TensorArray.{what}: index {i} is negative")
        if i >= new._size:
            if not self._dynamic:
                raise ValueError(f"tf.TensorArray.{what}: tried to write to index {i} but the array is not "
                                 f"resizeable and its size is {new._size}")
            new._size = i + 1
        if i in new._elements:
            raise ValueError(f"tf.TensorArray.{what}: could not write to index {i} because it has already been "
                             "written to")
        shape = value.shape
        if shape is not None and self._infer_shape:
            known = new._element_shape
            if known is not None and (len(known) != len(shape) or any(
                    a is not None and b is not None and a != b for a, b in zip(known, shape))):
                raise ValueError(f"tf.TensorArray.{what}: the value at index {i} has shape {list(shape)}, "
                                 f"incompatible with the element shape {list(known)}")
            new._element_shape = tuple(shape) if known is None else tuple(
                a if a is not None else b for a, b in zip(known, shape))
        new._elements[i] = value

    def write(self, index, value, name=None) -> TensorArray:
        """The array with ``value`` at ``index``."""
        new = self._copy()
        self._put(new, _static_index("write", index), value, "write")
        return new

    def unstack(self, value, name=None) -> TensorArray:
        """The array with ``value``'s rows at 0, 1, ..."""
        value = as_tf(value)
        if value.shape is None or not value.shape or value.shape[0] is None:
            raise ValueError(f"tf.TensorArray.unstack: the first dimension of '{value.name}' must be known, got "
                             f"{None if value.shape is None else list(value.shape)}")
        return self.scatter(list(range(value.shape[0])), value)

    def scatter(self, indices, value, name=None) -> TensorArray:
        """The array with ``value[k]`` at ``indices[k]``."""
        indices = _static_index("scatter", indices)
        indices = [indices] if isinstance(indices, int) else list(indices)
        value = as_tf(value)
        if value.shape is not None and (not value.shape or value.shape[0] not in (None, len(indices))):
            raise ValueError(f"tf.TensorArray.scatter: {len(indices)} indices for '{value.name}' of shape "
                             f"{list(value.shape)}")
        new = self._copy()
        for k, i in enumerate(indices):
            self._put(new, i, value[k], "scatter")
        return new

    def read(self, index, name=None) -> Tensor:
        """The element at ``index``."""
        i = _static_index("read", index)
        if i in self._cleared:
            raise ValueError(f"tf.TensorArray.read: could not read index {i} twice because it was cleared after a "
                             "previous read (perhaps try setting clear_after_read = False?)")
        if not 0 <= i < self._size:
            raise ValueError(f"tf.TensorArray.read: tried to read from index {i} but the array size is {self._size}")
        if i not in self._elements:
            raise ValueError(f"tf.TensorArray.read: could not read from index {i} because it has not yet been "
                             "written to")
        if self._clear_after_read:
            self._cleared.add(i)
        return op(lambda x: x, (self._elements[i],), name=name or f"{self._name}/Read")

    def _element(self, what: str, i: int) -> Tensor:
        if not 0 <= i < self._size:
            raise ValueError(f"tf.TensorArray.{what}: index {i} is outside the array of size {self._size}")
        if i in self._elements:
            return self._elements[i]
        shape = self._element_shape
        if shape is None or None in shape:
            raise ValueError(f"tf.TensorArray.{what}: index {i} was never written and the element shape is not "
                             f"fully known ({None if shape is None else list(shape)})")
        return constant(np.zeros(shape, self._dtype))

    def gather(self, indices, name=None) -> Tensor:
        """The elements at ``indices``, stacked."""
        from ember.compat.tf.array_ops import stack

        indices = _static_index("gather", indices)
        indices = [indices] if isinstance(indices, int) else list(indices)
        if not indices:
            return self._empty("gather")
        return stack([self._element("gather", i) for i in indices], name=name or f"{self._name}/Gather")

    def stack(self, name=None) -> Tensor:
        """Every element, stacked along a new first dimension."""
        return self.gather(list(range(self._size)), name=name or f"{self._name}/Stack")

    def concat(self, name=None) -> Tensor:
        """Every element joined along its first dimension."""
        from ember.compat.tf.array_ops import concat

        parts = [self._element("concat", i) for i in range(self._size)]
        for t in parts:
            if t.shape is not None and not t.shape:
                raise ValueError(f"tf.TensorArray.concat: the elements must have a first dimension, got '{t.name}' "
                                 "of shape []")
        if not parts:
            shape = self._element_shape
            if shape is None or None in shape[1:] or not shape:
                raise ValueError("tf.TensorArray.concat: an empty array needs a fully known element shape")
            return constant(np.zeros((0,) + tuple(shape[1:]), self._dtype))
        return concat(parts, 0, name=name or f"{self._name}/Concat")

    def _empty(self, what: str) -> Tensor:
        shape = self._element_shape
        if shape is None or None in shape:
            raise ValueError(f"tf.TensorArray.{what}: no elements, and the element shape is not fully known")
        return constant(np.zeros((0,) + tuple(shape), self._dtype))

    def identity(self) -> TensorArray:
        return self._copy()

    def close(self, name=None):
        """Nothing to free (a list of tensors); an op that does nothing, as TF-1's returns one."""
        from ember.compat.tf._core import no_op

        return no_op(name=name or f"{self._name}/Close")


