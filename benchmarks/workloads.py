"""The standard benchmark workloads, each built for Ember, PyTorch and JAX (some for NumPy).

A builder returns ``step(i)``: one training step (forward, loss, backward, update) on batch ``i % 8`` of a
pool of pre-generated batches. All frameworks start from the same weights and see the same batches.
"""

from __future__ import annotations

import warnings

import numpy as np

import ember
from ember.backend import onednn

ember.tune_malloc()  # as a training loop does (Model.fit): the step's arrays are reused, not faulted back in
POOL = 8
DEVICE = "cpu"  # where the Ember and PyTorch nets, batches and optimizer state live: run.py's --device sets it


def _to_device_ember(array):
    return ember.from_numpy(array) if DEVICE == "cpu" else ember.tensor(array, device=DEVICE)


def _to_device_torch(array):
    import torch

    return torch.from_numpy(array) if DEVICE == "cpu" else torch.from_numpy(array).to(DEVICE)


def _synchronized(step, synchronize):
    """``step`` waiting for the GPU to finish it: each timed step then includes its kernels' work."""
    if DEVICE == "cpu":
        return step

    def synced(i):
        result = step(i)
        synchronize()
        return result

    return synced


# --- tiny-chain ---------------------------------------------------------------------------------------------


def tiny_chain_ember():
    x = ember.randn(16, requires_grad=True)

    def step(i):
        y = x
        for _ in range(25):
            y = (y * 1.0001 + 0.5).tanh() - 0.25
        y.sum().backward()
        x.grad = None

    return step


def tiny_chain_torch():
    import torch

    x = torch.randn(16, requires_grad=True)

    def step(i):
        y = x
        for _ in range(25):
            y = torch.tanh(y * 1.0001 + 0.5) - 0.25
        y.sum().backward()
        x.grad = None

    return step


def tiny_chain_numpy():
    x = np.random.default_rng(0).standard_normal(16).astype(np.float32)
    a, b, c = np.float32(1.0001), np.float32(0.5), np.float32(0.25)

    def step(i):
        outs = []
        y = x
        for _ in range(25):
            t = np.tanh(y * a + b)
            outs.append(t)
            y = t - c
        g = np.ones_like(x)
        for t in reversed(outs):
            g = g * (1 - t * t) * a
        return g

    return step


# --- models built twice: Ember and PyTorch with the same weights ------------------------------------------


def _mlp_layers(nn, sizes):
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _lenet_layers(nn):
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 4 * 4, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )


def _inputs(batch, convert):
    """A batch's network inputs: one array, or a tuple of them (models with several inputs)."""
    return tuple(convert(a) for a in batch) if isinstance(batch, tuple) else (convert(batch),)


def _ember_step(net, optimizer, xs, ys, jit=False, loss_fn="cross_entropy"):
    """The eager step; ``jit``: the same function traced whole (backward and update) by ``ember.jit``.
    ``loss_fn`` names the loss, the same function in ``ember`` and ``torch.nn.functional``."""
    xs = [_inputs(x, _to_device_ember) for x in xs]
    ys = [_to_device_ember(y) for y in ys]
    criterion = getattr(ember, loss_fn)

    def train(y, *x):
        optimizer.zero_grad()
        loss = criterion(net(*x), y)
        loss.backward()
        optimizer.step()
        return loss

    if jit:
        train = ember.jit(train)

    def step(i):
        return train(ys[i % POOL], *xs[i % POOL])

    return _synchronized(step, ember.cuda.synchronize)


def _torch_step(net, optimizer, xs, ys, compiled=False, loss_fn="cross_entropy"):
    """The eager step; ``compiled``: forward and loss through ``torch.compile``, compiled from scratch."""
    import torch

    xs = [_inputs(x, _to_device_torch) for x in xs]
    ys = [_to_device_torch(y) for y in ys]
    criterion = getattr(torch.nn.functional, loss_fn)
    forward = lambda y, *x: criterion(net(*x), y)
    if compiled:
        import torch._dynamo

        torch._dynamo.reset()  # else a previous workload's graph is reused, recompiled with dynamic shapes
        torch.compiler.config.force_disable_caches = True  # time a first compile, not a cache hit
        warnings.filterwarnings("ignore", "dynamo_pgo force disabled")
        forward = torch.compile(forward)

    def step(i):
        optimizer.zero_grad()
        loss = forward(ys[i % POOL], *xs[i % POOL])
        loss.backward()
        optimizer.step()
        return loss

    return _synchronized(step, torch.cuda.synchronize)


def _ember_net(build, seed, device=None):
    ember.manual_seed(seed)
    net = build(ember.nn)
    device = DEVICE if device is None else device
    return net if device == "cpu" else net.to(device)


def _torch_net(build, seed):
    import torch

    net = build(torch.nn)
    source = _ember_net(build, seed, "cpu").state_dict()
    net.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in source.items()})
    return net if DEVICE == "cpu" else net.to(DEVICE)


def _batches(shape, classes, seed):
    rng = np.random.default_rng(seed + 1)
    xs = [rng.standard_normal(shape).astype(np.float32) for _ in range(POOL)]
    ys = [rng.integers(0, classes, shape[0]).astype(np.int64) for _ in range(POOL)]
    return xs, ys


def mlp_ember(sizes, batch, lr=0.01, momentum=0.9, seed=0, jit=False):
    net = _ember_net(lambda nn: _mlp_layers(nn, sizes), seed)
    optimizer = ember.optim.SGD(net.parameters(), lr=lr, momentum=momentum)
    return _ember_step(net, optimizer, *_batches((batch, sizes[0]), sizes[-1], seed), jit=jit)


def mlp_torch(sizes, batch, lr=0.01, momentum=0.9, seed=0, compiled=False):
    import torch

    net = _torch_net(lambda nn: _mlp_layers(nn, sizes), seed)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum)
    return _torch_step(net, optimizer, *_batches((batch, sizes[0]), sizes[-1], seed), compiled)


def lenet_ember(batch=64, lr=0.01, seed=0, jit=False):
    net = _ember_net(_lenet_layers, seed)
    optimizer = ember.optim.SGD(net.parameters(), lr=lr)
    return _ember_step(net, optimizer, *_batches((batch, 1, 28, 28), 10, seed), jit=jit)


def lenet_torch(batch=64, lr=0.01, seed=0):
    import torch

    net = _torch_net(_lenet_layers, seed)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    return _torch_step(net, optimizer, *_batches((batch, 1, 28, 28), 10, seed))


# --- W6: one transformer encoder layer, MSE, Adam ------------------------------------------------------------

W6_SHAPE = (16, 64, 128)  # batch, sequence, d_model


def _encoder_layer(nn):
    return nn.TransformerEncoderLayer(W6_SHAPE[2], 4, dim_feedforward=512, batch_first=True)


def _w6_batches(seed):
    rng = np.random.default_rng(seed + 1)
    xs = [rng.standard_normal(W6_SHAPE).astype(np.float32) for _ in range(POOL)]
    ys = [rng.standard_normal(W6_SHAPE).astype(np.float32) for _ in range(POOL)]
    return xs, ys


def transformer_ember(lr=1e-3, seed=0, jit=False):
    net = _ember_net(_encoder_layer, seed)
    return _ember_step(net, ember.optim.Adam(net.parameters(), lr=lr), *_w6_batches(seed), jit=jit,
                       loss_fn="mse_loss")


def transformer_torch(lr=1e-3, seed=0):
    import torch

    net = _torch_net(_encoder_layer, seed)
    return _torch_step(net, torch.optim.Adam(net.parameters(), lr=lr), *_w6_batches(seed), loss_fn="mse_loss")


# --- GPU anchors: ResNet-18 on 32x32 at batch 128, a d512 encoder layer -------------------------------------

R18_BATCH = 128
T512_SHAPE = (32, 256, 512)  # batch, sequence, d_model


def _resnet18(nn, classes=10):
    """torchvision's ResNet-18 (7x7 stem, max pool, four stages of two basic blocks), written once for both."""

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU()
            self.shortcut = nn.Sequential() if stride == 1 and cin == cout else nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            y = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(y)) + self.shortcut(x))

    stages, cin = [], 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        stages += [Block(cin, cout, stride), Block(cout, cout, 1)]
        cin = cout
    return nn.Sequential(
        nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1),
        *stages, nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(512, classes),
    )


def resnet18_ember(lr=0.01, seed=0):
    net = _ember_net(_resnet18, seed)
    optimizer = ember.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
    return _ember_step(net, optimizer, *_batches((R18_BATCH, 3, 32, 32), 10, seed))


def resnet18_torch(lr=0.01, seed=0):
    import torch

    net = _torch_net(_resnet18, seed)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
    return _torch_step(net, optimizer, *_batches((R18_BATCH, 3, 32, 32), 10, seed))


def _encoder_layer_512(nn):
    return nn.TransformerEncoderLayer(T512_SHAPE[2], 8, dim_feedforward=2048, batch_first=True)


def _t512_batches(seed):
    rng = np.random.default_rng(seed + 1)
    return ([rng.standard_normal(T512_SHAPE).astype(np.float32) for _ in range(POOL)],
            [rng.standard_normal(T512_SHAPE).astype(np.float32) for _ in range(POOL)])


def transformer512_ember(lr=1e-3, seed=0):
    net = _ember_net(_encoder_layer_512, seed)
    return _ember_step(net, ember.optim.Adam(net.parameters(), lr=lr), *_t512_batches(seed), loss_fn="mse_loss")


def transformer512_torch(lr=1e-3, seed=0):
    import torch

    net = _torch_net(_encoder_layer_512, seed)
    return _torch_step(net, torch.optim.Adam(net.parameters(), lr=lr), *_t512_batches(seed), loss_fn="mse_loss")


# --- W5s / W5d: a CTR model, 26 embedded fields + 13 dense features, BCE, Adagrad ----------------------------

CTR_FIELDS, CTR_VOCAB, CTR_DIM, CTR_DENSE, CTR_BATCH = 26, 100_000, 16, 13, 512


def _ctr_model(nn, cat, sparse):
    class CTR(nn.Module):
        def __init__(self):
            super().__init__()
            self.tables = nn.ModuleList([nn.Embedding(CTR_VOCAB, CTR_DIM, sparse=sparse) for _ in range(CTR_FIELDS)])
            width = CTR_FIELDS * CTR_DIM + CTR_DENSE
            self.mlp = nn.Sequential(nn.Linear(width, 400), nn.ReLU(), nn.Linear(400, 400), nn.ReLU(),
                                     nn.Linear(400, 1))

        def forward(self, ids, dense):
            features = [table(ids[:, i]) for i, table in enumerate(self.tables)]
            return self.mlp(cat(features + [dense], 1)).reshape(-1)

    return CTR()


def _ctr_batches(seed):
    rng = np.random.default_rng(seed + 1)
    xs = [(rng.integers(0, CTR_VOCAB, (CTR_BATCH, CTR_FIELDS)),
           rng.standard_normal((CTR_BATCH, CTR_DENSE)).astype(np.float32)) for _ in range(POOL)]
    ys = [rng.integers(0, 2, CTR_BATCH).astype(np.float32) for _ in range(POOL)]
    return xs, ys


def ctr_ember(sparse, lr=0.01, seed=0, jit=False):
    net = _ember_net(lambda nn: _ctr_model(nn, ember.cat, sparse), seed)
    return _ember_step(net, ember.optim.Adagrad(net.parameters(), lr=lr), *_ctr_batches(seed), jit=jit,
                       loss_fn="binary_cross_entropy_with_logits")


def ctr_torch(sparse, lr=0.01, seed=0):
    import torch

    net = _torch_net(lambda nn: _ctr_model(nn, torch.cat if nn is torch.nn else ember.cat, sparse), seed)
    return _torch_step(net, torch.optim.Adagrad(net.parameters(), lr=lr), *_ctr_batches(seed),
                       loss_fn="binary_cross_entropy_with_logits")


def mlp_numpy(sizes, batch, lr=0.01, momentum=0.9, seed=0):
    """The hand-written NumPy floor: the same step with no framework at all."""
    rng = np.random.default_rng(seed)
    weights = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / np.sqrt(fan_in)
        weights.append((rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32),
                        rng.uniform(-bound, bound, fan_out).astype(np.float32)))
    xs, ys = _batches((batch, sizes[0]), sizes[-1], seed)
    bufs = [(np.zeros_like(w), np.zeros_like(b)) for w, b in weights]
    rows = np.arange(batch)

    def step(i):
        onednn.release_cores()  # OpenBLAS's threads, as NumPy has them in a process without Ember's oneDNN calls
        x, y = xs[i % POOL], ys[i % POOL]
        acts = [x]
        for k, (w, b) in enumerate(weights):
            z = acts[-1] @ w + b
            acts.append(np.maximum(z, 0) if k < len(weights) - 1 else z)
        z = acts[-1]
        e = np.exp(z - z.max(1, keepdims=True))
        g = e / e.sum(1, keepdims=True)
        g[rows, y] -= 1
        g /= batch
        for k in range(len(weights) - 1, -1, -1):
            w, b = weights[k]
            gw, gb = acts[k].T @ g, g.sum(0)
            if k:
                g = (g @ w.T) * (acts[k] > 0)
            for param, grad, buf in ((w, gw, bufs[k][0]), (b, gb, bufs[k][1])):
                buf *= momentum
                buf += grad
                param -= lr * buf

    return step


# --- W1b1 / W1b32: linear regression y = w * x + b, SGD lr 0.01 (MiniFlow's benchmark) -------------------


def _linreg_batches(batch, seed=0):
    rng = np.random.default_rng(seed + 1)
    xs = [rng.standard_normal(batch).astype(np.float32) for _ in range(POOL)]
    ys = [(2.0 * x + 0.5).astype(np.float32) for x in xs]
    return xs, ys


def linreg_ember(batch, lr=0.01):
    xs, ys = [[ember.from_numpy(a) for a in pool] for pool in _linreg_batches(batch)]
    w = ember.tensor(0.3, requires_grad=True)
    b = ember.tensor(0.1, requires_grad=True)
    optimizer = ember.optim.SGD([w, b], lr=lr)

    def step(i):
        optimizer.zero_grad()
        diff = w * xs[i % POOL] + b - ys[i % POOL]
        loss = (diff * diff).mean()
        loss.backward()
        optimizer.step()
        return loss

    return step


def linreg_torch(batch, lr=0.01):
    import torch

    xs, ys = [[torch.from_numpy(a) for a in pool] for pool in _linreg_batches(batch)]
    w = torch.tensor(0.3, requires_grad=True)
    b = torch.tensor(0.1, requires_grad=True)
    optimizer = torch.optim.SGD([w, b], lr=lr)

    def step(i):
        optimizer.zero_grad()
        diff = w * xs[i % POOL] + b - ys[i % POOL]
        loss = (diff * diff).mean()
        loss.backward()
        optimizer.step()
        return loss

    return step


def _miniflow():
    """MiniFlow 0.2.9 as published does a Python-2 ``import graph`` in ``miniflow/ops.py``: load its
    ``graph.py`` once under both ``graph`` and ``miniflow.graph``, then import the package."""
    import importlib.util
    import os
    import sys

    if "miniflow" not in sys.modules:
        spec = importlib.util.find_spec("miniflow")
        if spec is None:
            raise ImportError("miniflow is not installed (pip install miniflow==0.2.9)")
        path = os.path.join(spec.submodule_search_locations[0], "graph.py")
        graph_spec = importlib.util.spec_from_file_location("miniflow.graph", path)
        graph = importlib.util.module_from_spec(graph_spec)
        graph_spec.loader.exec_module(graph)
        sys.modules["graph"] = sys.modules["miniflow.graph"] = graph
    import miniflow

    return miniflow


def linreg_miniflow(batch, lr=0.01):
    """MiniFlow's own benchmark: its graph works on Python numbers, so batch 1 only, fed as floats."""
    if batch != 1:
        raise ValueError("MiniFlow computes on Python scalars: only the batch-1 workload")
    mf = _miniflow()
    xs, ys = [[float(a[0]) for a in pool] for pool in _linreg_batches(1)]
    x, y = mf.placeholder(), mf.placeholder()
    w, b = mf.Variable(0.3), mf.Variable(0.1)
    loss = mf.square(y - (w * x + b))
    train = mf.train.GradientDescentOptimizer(lr).minimize(loss)
    session = mf.Session()

    def step(i):
        session.run(train, feed_dict={x: xs[i % POOL], y: ys[i % POOL]})

    return step


def linreg_graph(batch, lr=0.01, numbers=None):
    """The TF-1 way: placeholders, a training op, one Session.run per step with its feed. ``numbers``
    (batch 1): feed each sample as a number, ``float`` (Python floats, as MiniFlow's benchmark does) or
    ``np.float32`` (NumPy scalars), into placeholders of shape []."""
    import ember.compat.tf as tf

    xs, ys = _linreg_batches(batch)
    if numbers is not None:
        if batch != 1:
            raise ValueError("numbers: a sample is one number at batch 1 only")
        xs, ys = [[numbers(a[0]) for a in pool] for pool in (xs, ys)]
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [None] if numbers is None else [])
        y = tf.placeholder(tf.float32, [None] if numbers is None else [])
        w = tf.Variable(0.3)
        b = tf.Variable(0.1)
        loss = tf.reduce_mean(tf.square(w * x + b - y))
        train = tf.train.GradientDescentOptimizer(lr).minimize(loss)
        session = tf.Session(graph=graph)
        session.run(tf.global_variables_initializer())

    def step(i):
        session.run(train, feed_dict={x: xs[i % POOL], y: ys[i % POOL]})

    return step


def _mlp_arrays(sizes, seed):
    """The Ember (and PyTorch) MLP's initial weights as ``[w, b, w, b, ...]``, each ``w`` laid out (in, out)."""
    source = _ember_net(lambda nn: _mlp_layers(nn, sizes), seed).state_dict().values()
    return [v.numpy().T.copy() for v in source]


def mlp_graph(sizes, batch, lr=0.01, momentum=0.9, seed=0, fetch_loss=False):
    """The MLP written against ``ember.compat.tf``, compiled by the graph runtime (same weights as eager).
    It feeds one-hot labels and fetches the training op only; ``fetch_loss`` does what the eager and jit steps
    do: class-index labels (sparse cross-entropy), and the loss fetched with the training op."""
    import ember.compat.tf as tf

    arrays = _mlp_arrays(sizes, seed)
    xs, labels = _batches((batch, sizes[0]), sizes[-1], seed)
    targets = labels if fetch_loss else [np.eye(sizes[-1], dtype=np.float32)[y] for y in labels]
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [None, sizes[0]])
        y = tf.placeholder(tf.int64, [None]) if fetch_loss else tf.placeholder(tf.float32, [None, sizes[-1]])
        h = x
        for k in range(0, len(arrays), 2):
            h = tf.matmul(h, tf.Variable(arrays[k])) + tf.Variable(arrays[k + 1])
            if k + 2 < len(arrays):
                h = tf.nn.relu(h)
        if fetch_loss:
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=h))
        else:
            loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=h))
        train = tf.train.MomentumOptimizer(lr, momentum).minimize(loss)
        session = tf.Session(graph=graph)
        session.run(tf.global_variables_initializer())
    fetches = [train, loss] if fetch_loss else train

    def step(i):
        return session.run(fetches, feed_dict={x: xs[i % POOL], y: targets[i % POOL]})

    return step


# --- JAX: jax.jit of the whole step, parameters threaded functionally (same weights and batches) -----------


def _jax_step(loss_fn, params, xs, ys, lr, momentum=0.0):
    """``step(i)``: one jitted call of ``loss_fn(params, x, y)``, ``jax.grad`` and SGD (with momentum)."""
    import jax
    import jax.numpy as jnp

    def train(params, bufs, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        if momentum:
            bufs = grads = [momentum * buf + g for buf, g in zip(bufs, grads)]
        return [p - lr * g for p, g in zip(params, grads)], bufs, loss

    train = jax.jit(train, donate_argnums=(0, 1))
    xs, ys = [jnp.asarray(x) for x in xs], [jnp.asarray(y) for y in ys]
    params = [jnp.asarray(p) for p in params]
    bufs = [jnp.zeros_like(p) for p in params] if momentum else []

    def step(i):
        nonlocal params, bufs
        params, bufs, loss = train(params, bufs, xs[i % POOL], ys[i % POOL])
        return loss.block_until_ready()  # one XLA executable: its outputs are ready together

    return step


def _jax_cross_entropy(logits, labels):
    import jax
    import jax.numpy as jnp

    return -jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], axis=1).mean()


def _jax_dense(params, h):
    """``h`` through the layers ``[w, b, w, b, ...]`` (``w`` as (in, out)) with ReLU between them."""
    import jax

    for k in range(0, len(params), 2):
        h = h @ params[k] + params[k + 1]
        if k + 2 < len(params):
            h = jax.nn.relu(h)
    return h


def linreg_jax(batch, lr=0.01):
    import jax.numpy as jnp

    loss = lambda p, x, y: jnp.mean(jnp.square(p[0] * x + p[1] - y))
    return _jax_step(loss, [np.float32(0.3), np.float32(0.1)], *_linreg_batches(batch), lr)


def mlp_jax(sizes, batch, lr=0.01, momentum=0.9, seed=0):
    loss = lambda params, x, y: _jax_cross_entropy(_jax_dense(params, x), y)
    return _jax_step(loss, _mlp_arrays(sizes, seed), *_batches((batch, sizes[0]), sizes[-1], seed), lr, momentum)


def lenet_jax(batch=64, lr=0.01, seed=0):
    """LeNet-5 with ``lax.conv_general_dilated`` and a ``reduce_window`` max pool, NCHW like the others."""
    from jax import lax, nn

    def conv_relu_pool(h, w, b):
        h = lax.conv_general_dilated(h, w, (1, 1), "VALID", dimension_numbers=("NCHW", "OIHW", "NCHW"))
        h = nn.relu(h + b[:, None, None])
        return lax.reduce_window(h, -np.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

    def loss(params, x, y):
        h = conv_relu_pool(conv_relu_pool(x, *params[0:2]), *params[2:4])
        return _jax_cross_entropy(_jax_dense(params[4:], h.reshape(h.shape[0], -1)), y)

    arrays = [v.numpy().copy() for v in _ember_net(_lenet_layers, seed).state_dict().values()]
    params = arrays[:4] + [a.T.copy() for a in arrays[4:]]
    return _jax_step(loss, params, *_batches((batch, 1, 28, 28), 10, seed), lr)


def ctr_jax(lr=0.01, seed=0, eps=1e-10):
    """W5s in JAX: the tables' rows gathered, ``jax.grad`` of the BCE through the MLP and the rows, dense
    Adagrad on the MLP and a hand-written sparse Adagrad per table (the batch's unique ids, their gradients
    summed by ``segment_sum``, accumulator and rows gathered and scattered back; tables donated)."""
    import jax
    import jax.numpy as jnp

    arrays = [v.numpy().copy() for v in _ember_net(lambda nn: _ctr_model(nn, ember.cat, True), seed)
              .state_dict().values()]
    tables = [jnp.asarray(a) for a in arrays[:CTR_FIELDS]]
    dense = [jnp.asarray(a.T.copy() if a.ndim == 2 else a) for a in arrays[CTR_FIELDS:]]
    table_sums, dense_sums = [jnp.zeros_like(t) for t in tables], [jnp.zeros_like(p) for p in dense]

    def loss_fn(params, rows, x, y):
        z = _jax_dense(params, jnp.concatenate(rows + [x], axis=1)).reshape(-1)
        return jnp.mean(jnp.maximum(z, 0) - z * y + jnp.log1p(jnp.exp(-jnp.abs(z))))

    def adagrad(p, s, g):
        s = s + g * g
        return p - lr * g / (jnp.sqrt(s) + eps), s

    def gather(table, unique):  # the padding ids (CTR_VOCAB) read zeros; their writes are dropped
        return table.at[unique].get(mode="fill", fill_value=0)

    def train(tables, table_sums, dense, dense_sums, ids, x, y):
        rows = [t[ids[:, i]] for i, t in enumerate(tables)]
        loss, (g_dense, g_rows) = jax.value_and_grad(loss_fn, argnums=(0, 1))(dense, rows, x, y)
        dense, dense_sums = map(list, zip(*(adagrad(p, s, g) for p, s, g in zip(dense, dense_sums, g_dense))))
        new_tables, new_sums = [], []
        for i, (t, s, g) in enumerate(zip(tables, table_sums, g_rows)):
            unique, inverse = jnp.unique(ids[:, i], size=CTR_BATCH, fill_value=CTR_VOCAB, return_inverse=True)
            g = jax.ops.segment_sum(g, inverse.reshape(-1), num_segments=CTR_BATCH)
            row, acc = adagrad(gather(t, unique), gather(s, unique), g)
            new_tables.append(t.at[unique].set(row, mode="drop"))
            new_sums.append(s.at[unique].set(acc, mode="drop"))
        return new_tables, new_sums, dense, dense_sums, loss

    train = jax.jit(train, donate_argnums=(0, 1, 2, 3))
    xs, ys = _ctr_batches(seed)
    batches = [(jnp.asarray(ids), jnp.asarray(x), jnp.asarray(y)) for (ids, x), y in zip(xs, ys)]
    state = (tables, table_sums, dense, dense_sums)

    def step(i):
        nonlocal state
        *new, loss = train(*state, *batches[i % POOL])
        state = tuple(new)
        return loss.block_until_ready()

    return step
