"""``tn.layer``: tinynn's layers (NHWC images, lazily sized weights, tinynn's padding rules) on Ember ops.

A layer keeps its parameters as NumPy arrays in ``params`` (tinynn's names: ``w``/``b``, ``W``/``b``,
``W_g``/``b_g``/``W_c``/``b_c``, ``gamma``/``beta``) and its gradients in ``grads`` after a backward.
``layer.forward(array)`` runs ``call`` on an Ember Tensor and returns an array; ``layer.backward(grad)``
differentiates that forward with Ember's autograd. A ``Net`` chains them as tinynn does, so a layer written
in tinynn's style (NumPy ``forward`` and ``backward``) works beside these.
"""

from __future__ import annotations

import numpy as np

import ember
from ember.compat.tinynn.initializer import Ones, XavierUniform, Zeros

__all__ = [
    "Activation", "BatchNormalization", "Conv2D", "ConvTranspose2D", "Dense", "Dropout", "ELU", "Flatten", "GELU",
    "LSTM", "Layer", "LeakyReLU", "MaxPool2D", "RNN", "ReLU", "Reshape", "Sigmoid", "Softplus", "Tanh",
    "empty", "get_padding_2d", "im2col",
]


def empty(shape, dtype=np.float32) -> np.ndarray:
    """An uninitialized array, float32 unless told (tinynn's helper)."""
    return np.empty(shape, dtype=dtype)


def _tensor(x) -> ember.Tensor:
    return x if isinstance(x, ember.Tensor) else ember.as_tensor(np.asarray(x))


class Layer:
    """A tinynn layer: ``params``/``nt_params`` (name -> array), ``initializers``, ``shapes``, ``grads``."""

    param_names: tuple = ()
    nt_param_names: tuple = ()

    def __init__(self):
        self.params = {name: None for name in self.param_names}
        self.nt_params = {name: None for name in self.nt_param_names}
        self.initializers: dict = {}
        self.shapes: dict = {}
        self.grads: dict = {}
        self.ctx: dict = {}
        self._is_training = True
        self._is_init = False
        self._leaves: dict = {}  # name -> the Tensor wrapping params[name] in the last forward
        self._alone: tuple | None = None  # (input, output) Tensors of a forward called on the layer alone

    def __repr__(self) -> str:
        return f"layer: {self.name}\tshape: {self.shapes or None}"

    def __getstate__(self) -> dict:
        """The layer without its last forward's autograd graph, which neither deep-copies nor survives a pickle
        (its output would come back a leaf, and ``backward`` would give zero gradients): a copy needs a forward
        of its own before ``backward``."""
        state = self.__dict__.copy()
        state["_leaves"], state["_alone"] = {}, None
        return state

    def __copy__(self) -> Layer:
        """A shallow copy shares everything, the last forward's graph included (as tinynn's shares ``ctx``)."""
        twin = type(self).__new__(type(self))
        twin.__dict__.update(self.__dict__)
        return twin

    @property
    def name(self) -> str:
        return type(self).__name__

    @property
    def is_training(self) -> bool:
        return self._is_training

    @is_training.setter
    def is_training(self, value: bool) -> None:
        self._is_training = value

    @property
    def is_init(self) -> bool:
        return self._is_init

    @is_init.setter
    def is_init(self, value: bool) -> None:
        self._is_init = value
        for name in self.param_names:
            self.shapes[name] = self.params[name].shape

    def _init_params(self) -> None:
        for name in self.param_names:
            self.params[name] = self.initializers[name](self.shapes[name])
        self.is_init = True

    def _param(self, name: str) -> ember.Tensor:
        """``params[name]`` as a leaf Tensor sharing its memory, whose gradient ``collect_grads`` reads."""
        leaf = ember.from_numpy(np.ascontiguousarray(self.params[name])).requires_grad_()
        self._leaves[name] = leaf
        return leaf

    def collect_grads(self) -> None:
        """Copy the gradients of the last forward's parameters into ``grads`` (NumPy arrays)."""
        for name, leaf in self._leaves.items():
            self.grads[name] = (np.zeros_like(self.params[name]) if leaf.grad is None
                                else np.array(leaf.grad.numpy()))

    def call(self, x: ember.Tensor) -> ember.Tensor:
        """The layer on an Ember Tensor (what ``Net`` chains)."""
        raise NotImplementedError(f"{self.name} must define call(x)")

    def forward(self, inputs) -> np.ndarray:
        """The layer alone on an array: returns an array; ``backward`` then gives the input's gradient."""
        x = ember.from_numpy(np.ascontiguousarray(inputs)) if isinstance(inputs, np.ndarray) else _tensor(inputs)
        if x.dtype.kind in "biu":  # tinynn's NumPy promotes integers with its float32 weights, and differentiates them
            x = ember.cast(x, np.result_type(x.dtype, np.float32))
        if x.dtype.kind == "f":
            x = x.detach().requires_grad_()
        out = self.call(x)
        self._alone = (x, out)
        return out.detach().numpy()

    def backward(self, grad) -> np.ndarray:
        """Gradients of the last ``forward``: fills ``grads`` and returns the gradient of the inputs. As in tinynn,
        one forward may be followed by several backwards (each gives the gradients of its own ``grad``)."""
        if self._alone is None:
            raise RuntimeError(f"{self.name}.backward: call forward first (a copied or unpickled layer does not keep "
                               "the graph of the forward before the copy)")
        x, out = self._alone
        x.grad = None
        for leaf in self._leaves.values():
            leaf.grad = None
        if out.requires_grad:  # (not when nothing of the forward was differentiable: e.g. Flatten of integers)
            out.backward(ember.as_tensor(np.asarray(grad, dtype=out.dtype)), retain_graph=True)
        self.collect_grads()
        return np.zeros(x.shape, x.dtype) if x.grad is None else x.grad.numpy()


class Dense(Layer):
    """``inputs @ w + b``; the input size is taken from the first input."""

    param_names = ("w", "b")

    def __init__(self, num_out: int, w_init=XavierUniform(), b_init=Zeros()):
        super().__init__()
        self.initializers = {"w": w_init, "b": b_init}
        self.shapes = {"w": [None, int(num_out)], "b": [int(num_out)]}

    def call(self, x):
        if not self.is_init:
            if x.ndim != 2:
                raise ValueError(f"Dense: expected inputs of shape (batch, features), got {list(x.shape)}")
            self.shapes["w"][0] = x.shape[1]
            self._init_params()
        return ember.matmul(x, self._param("w")) + self._param("b")


def get_padding_2d(in_shape, k_shape, mode: str) -> tuple:
    """tinynn's NHWC pad widths ((0, 0), (top, bottom), (left, right), (0, 0)): "SAME" pads kernel - 1 in all,
    the odd one after, whatever the stride; "VALID" pads nothing. (``in_shape`` is not needed; kept for tinynn.)"""
    if mode not in ("SAME", "VALID"):
        raise ValueError(f"get_padding_2d: mode must be 'SAME' or 'VALID', got {mode!r}")

    def one_axis(kernel: int) -> tuple:
        total = int(kernel) - 1 if mode == "SAME" else 0
        return total // 2, total - total // 2

    return (0, 0), one_axis(k_shape[0]), one_axis(k_shape[1]), (0, 0)


def im2col(img, k_h: int, k_w: int, s_h: int, s_w: int) -> np.ndarray:
    """The (k_h, k_w) windows of a padded NHWC ``img`` at strides (s_h, s_w) as float32 rows, ordered by
    (batch, row, column), each window flattened in (height, width, channel) order, as tinynn lays them out."""
    img = np.asarray(img)
    if img.ndim != 4:
        raise ValueError(f"im2col: expected an NHWC image batch, got shape {img.shape}")
    windows = np.lib.stride_tricks.sliding_window_view(img, (k_h, k_w), axis=(1, 2))[:, ::s_h, ::s_w]
    batch, out_h, out_w = windows.shape[:3]
    return windows.transpose(0, 1, 2, 4, 5, 3).reshape(batch * out_h * out_w, -1).astype(np.float32)


def _nchw_pad(padding: tuple) -> tuple:
    """tinynn's NHWC pad widths for a tensor transposed to NCHW."""
    return (0, 0), (0, 0), tuple(padding[1]), tuple(padding[2])


class Conv2D(Layer):
    """2-D convolution (a correlation, as tinynn's) of NHWC inputs with a (k_h, k_w, in, out) kernel, padding
    "SAME" or "VALID"; ``padding`` holds the pad widths once the first input is seen."""

    param_names = ("w", "b")

    def __init__(self, kernel, stride=(1, 1), padding: str = "SAME", w_init=XavierUniform(), b_init=Zeros()):
        super().__init__()
        if len(kernel) != 4:
            raise ValueError(f"{self.name}: kernel must be (height, width, in_channels, out_channels), got {kernel}")
        if padding not in ("SAME", "VALID"):
            raise ValueError(f"{self.name}: padding must be 'SAME' or 'VALID', got {padding!r}")
        self.kernel_shape = tuple(int(k) for k in kernel)
        self.stride = tuple(int(s) for s in stride)
        self.padding_mode = padding
        self.padding = None
        self.initializers = {"w": w_init, "b": b_init}
        self.shapes = {"w": list(self.kernel_shape), "b": self.kernel_shape[-1]}

    def _check_inputs(self, x, channels: int) -> None:
        if x.ndim != 4 or x.shape[3] != channels:
            raise ValueError(f"{self.name}: expected NHWC inputs with {channels} channels, got shape {list(x.shape)}")

    def _correlate(self, x, stride) -> ember.Tensor:
        """``x`` (NHWC, not yet padded) padded by ``self.padding`` and correlated with the kernel, plus the bias."""
        x = ember.pad(ember.transpose(x, (0, 3, 1, 2)), _nchw_pad(self.padding))
        weight = ember.transpose(self._param("w"), (3, 2, 0, 1))
        y = ember.conv2d(x, weight, stride=stride)
        return ember.transpose(y, (0, 2, 3, 1)) + self._param("b")

    def call(self, x):
        if not self.is_init:
            self._init_params()
        self._check_inputs(x, self.kernel_shape[2])
        if self.padding is None:
            self.padding = get_padding_2d(x.shape[1:3], self.kernel_shape[:2], self.padding_mode)
        return self._correlate(x, self.stride)


class ConvTranspose2D(Conv2D):
    """tinynn's transposed convolution of NHWC inputs: zeros are inserted between the input's pixels (after
    each one for "SAME", giving in * stride pixels; only between them for "VALID"), the result is padded
    (kernel - 1 in all for "SAME", kernel - 1 on each side for "VALID") and correlated with the
    (k_h, k_w, in, out) kernel at stride 1. Outputs are in * stride ("SAME") or (in - 1) * stride + kernel
    ("VALID") pixels a side."""

    def __init__(self, kernel, stride=(1, 1), padding: str = "SAME", w_init=XavierUniform(), b_init=Zeros()):
        super().__init__(kernel, stride, padding, w_init, b_init)
        self.origin_stride = self.stride
        self.stride = (1, 1)

    def _insert_zeros(self, x) -> ember.Tensor:
        batch, height, width, channels = x.shape
        s_h, s_w = self.origin_stride
        spread = ember.pad(ember.reshape(x, (batch, height, 1, width, 1, channels)),
                           ((0, 0), (0, 0), (0, s_h - 1), (0, 0), (0, s_w - 1), (0, 0)))
        spread = ember.reshape(spread, (batch, height * s_h, width * s_w, channels))
        if self.padding_mode == "VALID":  # no zeros after the last pixel
            spread = spread[:, :(height - 1) * s_h + 1, :(width - 1) * s_w + 1]
        return spread

    def call(self, x):
        if not self.is_init:
            self._init_params()
        self._check_inputs(x, self.kernel_shape[2])
        k_h, k_w = self.kernel_shape[:2]
        if self.padding is None:
            self.padding = (get_padding_2d(None, (k_h, k_w), "SAME") if self.padding_mode == "SAME"
                            else ((0, 0), (k_h - 1, k_h - 1), (k_w - 1, k_w - 1), (0, 0)))
        return self._correlate(self._insert_zeros(x), (1, 1))


class MaxPool2D(Layer):
    """Max pooling of NHWC inputs; "SAME" pads with zeros, as tinynn does; the stride defaults to the pool size."""

    def __init__(self, pool_size=(2, 2), stride=None, padding: str = "VALID"):
        super().__init__()
        if padding not in ("SAME", "VALID"):
            raise ValueError(f"MaxPool2D: padding must be 'SAME' or 'VALID', got {padding!r}")
        self.kernel_shape = tuple(int(k) for k in pool_size)
        self.stride = tuple(int(s) for s in (stride if stride is not None else pool_size))
        self.padding_mode = padding
        self.padding = None

    def call(self, x):
        if x.ndim != 4:
            raise ValueError(f"MaxPool2D: expected NHWC inputs, got shape {list(x.shape)}")
        if self.padding is None:
            self.padding = get_padding_2d(x.shape[1:3], self.kernel_shape, self.padding_mode)
        x = ember.pad(ember.transpose(x, (0, 3, 1, 2)), _nchw_pad(self.padding))
        return ember.transpose(ember.max_pool2d(x, self.kernel_shape, self.stride), (0, 2, 3, 1))


class RNN(Layer):
    """Elman RNN over (batch, time, features): h_t = tanh([h_{t-1}, x_t] @ W.T + b); returns the last h."""

    param_names = ("W", "b")

    def __init__(self, num_hidden: int, w_init=XavierUniform(), b_init=Zeros()):
        super().__init__()
        self.n_h = int(num_hidden)
        self.initializers = {"W": w_init, "b": b_init}

    def call(self, x):
        if x.ndim != 3:
            raise ValueError(f"RNN: expected inputs of shape (batch, time, features), got {list(x.shape)}")
        if not self.is_init:
            self.shapes = {"W": [self.n_h, self.n_h + x.shape[2]], "b": [self.n_h]}
            self._init_params()
        weight_t, bias = ember.transpose(self._param("W")), self._param("b")
        h = ember.zeros((x.shape[0], self.n_h), dtype=x.dtype)
        for t in range(x.shape[1]):
            h = ember.tanh(ember.matmul(ember.concat([h, x[:, t]], axis=1), weight_t) + bias)
        return h


class LSTM(Layer):
    """tinynn's LSTM over (batch, time, features): gates (o, i, f) = sigmoid([h, x] @ W_g.T + b_g),
    c_hat = tanh([h, x] @ W_c.T + b_c), c = f * c + i * c_hat, h = o * tanh(c); returns the last h."""

    param_names = ("W_g", "b_g", "W_c", "b_c")

    def __init__(self, num_hidden: int, w_init=XavierUniform(), b_init=Zeros()):
        super().__init__()
        self.n_h = int(num_hidden)
        self.initializers = {"W_g": w_init, "W_c": w_init, "b_g": b_init, "b_c": b_init}

    def call(self, x):
        if x.ndim != 3:
            raise ValueError(f"LSTM: expected inputs of shape (batch, time, features), got {list(x.shape)}")
        n_h = self.n_h
        if not self.is_init:
            self.shapes = {"W_g": [3 * n_h, x.shape[2] + n_h], "b_g": [3 * n_h],
                           "W_c": [n_h, x.shape[2] + n_h], "b_c": [n_h]}
            self._init_params()
        gate_w, gate_b = ember.transpose(self._param("W_g")), self._param("b_g")
        cell_w, cell_b = ember.transpose(self._param("W_c")), self._param("b_c")
        h = c = ember.zeros((x.shape[0], n_h), dtype=x.dtype)
        for t in range(x.shape[1]):
            z = ember.concat([h, x[:, t]], axis=1)
            o, i, f = ember.chunk(ember.sigmoid(ember.matmul(z, gate_w) + gate_b), 3, axis=1)
            c = f * c + i * ember.tanh(ember.matmul(z, cell_w) + cell_b)
            h = o * ember.tanh(c)
        return h


class BatchNormalization(Layer):
    """Normalizes over the batch axis; running statistics start at the first batch's and move by ``momentum``."""

    param_names = ("gamma", "beta")
    nt_param_names = ("r_mean", "r_var")

    def __init__(self, momentum: float = 0.99, gamma_init=Ones(), beta_init=Zeros(), epsilon: float = 1e-5):
        super().__init__()
        self.m, self.epsilon = momentum, epsilon
        self.initializers = {"gamma": gamma_init, "beta": beta_init}

    def call(self, x):
        if not self.is_init:
            for name in self.param_names:
                self.shapes[name] = x.shape[-1]
            self._init_params()
        data = x.detach().numpy()
        if self.nt_params["r_mean"] is None:
            self.nt_params["r_mean"] = data.mean(0, keepdims=True)
            self.nt_params["r_var"] = data.var(0, keepdims=True)
        if self.is_training:
            mean, var = ember.mean(x, axis=0, keepdims=True), ember.var(x, axis=0, keepdims=True, ddof=0)
            self.nt_params["r_mean"] = self.m * self.nt_params["r_mean"] + (1.0 - self.m) * data.mean(0, keepdims=True)
            self.nt_params["r_var"] = self.m * self.nt_params["r_var"] + (1.0 - self.m) * data.var(0, keepdims=True)
        else:
            mean, var = ember.as_tensor(self.nt_params["r_mean"]), ember.as_tensor(self.nt_params["r_var"])
        return self._param("gamma") * ((x - mean) / ember.sqrt(var + self.epsilon)) + self._param("beta")


class Reshape(Layer):
    """Reshape each example to ``output_shape`` (the batch axis is kept); ``input_shape`` is the last input's.
    On arrays, as tinynn: the inputs keep their dtype (integers too) and ``backward`` reshapes the gradient."""

    def __init__(self, *output_shape):
        super().__init__()
        self.output_shape = output_shape
        self.input_shape = None

    def call(self, x):
        self.input_shape = tuple(x.shape)
        return ember.reshape(x, (x.shape[0], *self.output_shape))

    def forward(self, inputs) -> np.ndarray:
        inputs = np.asarray(inputs)
        self.input_shape = inputs.shape
        return inputs.reshape(inputs.shape[0], *self.output_shape)

    def backward(self, grad) -> np.ndarray:
        if self.input_shape is None:
            raise RuntimeError(f"{self.name}.backward: call forward first")
        return np.asarray(grad).reshape(self.input_shape)


class Flatten(Reshape):
    """(batch, everything else)."""

    def __init__(self):
        super().__init__(-1)


class Dropout(Layer):
    """While training, keep each unit with probability ``keep_prob`` (NumPy's global generator) and scale by
    1 / keep_prob."""

    def __init__(self, keep_prob: float = 0.5):
        super().__init__()
        if not 0.0 < keep_prob <= 1.0:
            raise ValueError(f"Dropout: keep_prob must be in (0, 1], got {keep_prob}")
        self._keep_prob = keep_prob

    def call(self, x):
        if not self.is_training:
            return x
        mask = np.random.binomial(1, self._keep_prob, x.shape) / self._keep_prob
        return x * ember.as_tensor(mask.astype(x.dtype))


class Activation(Layer):
    """An elementwise function: ``func`` on Ember Tensors, and ``derivative(x)``, its slope at the array ``x``.

    A subclass in tinynn's style defines both ``func`` and ``derivative`` on NumPy arrays; its backward is
    then ``derivative(inputs) * grad``, as in tinynn."""

    def _numpy_style(self) -> bool:
        return type(self).derivative is not Activation.derivative

    def forward(self, inputs):
        if self._numpy_style():
            self.ctx = {"X": inputs}
            return self.func(inputs)
        return super().forward(inputs)

    def backward(self, grad):
        if self._numpy_style():
            return self.derivative(self.ctx["X"]) * grad
        return super().backward(grad)

    def call(self, x):
        return self.func(x)

    def func(self, x):
        raise NotImplementedError(f"{self.name} must define func(x)")

    def derivative(self, x) -> np.ndarray:
        """d func / dx at each element of the array ``x`` (by Ember's autograd)."""
        t = ember.tensor(np.asarray(x, dtype=np.result_type(np.asarray(x).dtype, np.float32)), requires_grad=True)
        ember.sum(self.func(t)).backward()
        return t.grad.numpy()


class Sigmoid(Activation):
    def func(self, x):
        return ember.sigmoid(x)


class Softplus(Activation):
    def func(self, x):
        return ember.softplus(x)


class Tanh(Activation):
    def func(self, x):
        return ember.tanh(x)


class ReLU(Activation):
    def func(self, x):
        return ember.relu(x)


class LeakyReLU(Activation):
    """x for x >= 0, slope * x below; the slope at 0 is 1, as tinynn's derivative (``leaky_relu``'s is ``slope``)."""

    def __init__(self, slope: float = 0.2):
        super().__init__()
        self._slope = slope

    def func(self, x):
        return ember.where(x < 0, x * self._slope, x)


class GELU(Activation):
    """tinynn's GELU: x * sigmoid(alpha * x) with tinynn's alpha, 0.1702 (the paper's sigmoid approximation
    has 1.702; tinynn's constant is kept so that its scripts compute what they compute in tinynn)."""

    def __init__(self):
        super().__init__()
        self._alpha = 0.1702

    def func(self, x):
        return x * ember.sigmoid(self._alpha * x)


class ELU(Activation):
    """x for x > 0, alpha * (exp(x) - 1) below."""

    def __init__(self, alpha: float = 1.0):
        super().__init__()
        self._alpha = alpha

    def func(self, x):
        return ember.elu(x, self._alpha)


def __getattr__(name: str):
    raise AttributeError(f"module 'tn.layer' has no attribute {name!r} in ember.compat.tinynn; it has: "
                         + ", ".join(__all__))
