"""Run under `ember launch -n N`: compiled data-parallel steps (a TF-1 Session, ember.jit, Model.fit with
compile=True) equal one process training eagerly on the global batch (the data_parallel pass)."""

import numpy as np

import ember
import ember.compat.tf as tf
import ember.distributed as dist
from ember import nn
from ember.model import Model

dist.init_process_group(timeout=30)
r, n = dist.get_rank(), dist.get_world_size()
assert "data_parallel" in ember.passes.manager.pipeline()
rng = np.random.default_rng(0)
x_all = rng.standard_normal((32, 8)).astype(np.float32)
labels = rng.integers(0, 3, 32)
onehot = np.eye(3, dtype=np.float32)[labels]


def mlp():
    ember.manual_seed(4)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))


def eager_reference(steps: int, batch: int, momentum: float):
    net = mlp()
    opt = ember.optim.SGD(net.parameters(), lr=0.1, momentum=momentum)
    for step in range(steps):
        lo = (step * batch) % 32
        opt.zero_grad()
        ember.cross_entropy(net(ember.tensor(x_all[lo : lo + batch])), ember.tensor(labels[lo : lo + batch])).backward()
        opt.step()
    return [p.detach().numpy() for p in net.parameters()]


# --- a TF-1 Session: each rank feeds its shard of the global batch of 16 ---
def tf_mlp():
    """The MLP as TF-1 code, from mlp()'s weights: (placeholders x and y, [w1, b1, w2, b2], the loss)."""
    tf.reset_default_graph()
    weights = [p.detach().numpy() for p in mlp().parameters()]
    x = tf.placeholder(tf.float32, [None, 8])
    y = tf.placeholder(tf.float32, [None, 3])
    w1, b1 = tf.Variable(weights[0].T.copy()), tf.Variable(weights[1])
    w2, b2 = tf.Variable(weights[2].T.copy()), tf.Variable(weights[3])
    logits = tf.matmul(tf.nn.relu(tf.matmul(x, w1) + b1), w2) + b2
    return x, y, [w1, b1, w2, b2], tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits))


def run_session(x, y, variables, train, steps: int) -> list:
    """``steps`` runs of ``train``, each rank feeding its shard of the global batch of 16; the weights after, laid
    out as mlp()'s parameters."""
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for step in range(steps):
            lo = (step * 16) % 32
            mine = slice(lo + r, lo + 16, n)
            sess.run(train, {x: x_all[mine], y: onehot[mine]})
        w1, b1, w2, b2 = sess.run(variables)
    return [w1.T, b1, w2.T, b2]


x, y, variables, loss = tf_mlp()
got = run_session(x, y, variables, tf.train.MomentumOptimizer(0.1, 0.9).minimize(loss), 4)
expect = eager_reference(4, 16, 0.9)
for a, b in zip(got, expect):
    np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6, err_msg="Session")


# --- a TF-1 Session that clips compute_gradients' gradients by their global norm before apply_gradients ---
def clipped_reference(steps: int, lr: float, batch: int = 16):
    """One process on the global batches: SGD on the gradients clipped to a global norm of 0.05."""
    net = mlp()
    opt = ember.optim.SGD(net.parameters(), lr=lr)
    for k in range(steps):
        lo = (k * batch) % 32
        opt.zero_grad()
        ember.cross_entropy(net(ember.tensor(x_all[lo : lo + batch])), ember.tensor(labels[lo : lo + batch])).backward()
        ember.nn.utils.clip_grad_norm_(net.parameters(), 0.05)
        opt.step()
    return net


x, y, variables, loss = tf_mlp()
optimizer = tf.train.GradientDescentOptimizer(0.5)
grads, trained = zip(*optimizer.compute_gradients(loss))
clipped, _ = tf.clip_by_global_norm(grads, 0.05)
got = run_session(x, y, variables, optimizer.apply_gradients(zip(clipped, trained)), 3)
for a, b in zip(got, [p.detach().numpy() for p in clipped_reference(3, 0.5).parameters()]):
    np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6, err_msg="Session with clipped gradients")

# --- ember.jit of an eager training step ---
net = mlp()
opt = ember.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)


@ember.jit
def step(xb, yb):
    opt.zero_grad()
    out = ember.cross_entropy(net(xb), yb)
    out.backward()
    opt.step()
    return out


for k in range(4):
    lo = (k * 16) % 32
    step(ember.tensor(x_all[lo + r : lo + 16 : n]), ember.tensor(labels[lo + r : lo + 16 : n]))
for a, b in zip([p.detach().numpy() for p in net.parameters()], expect):
    np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6, err_msg="ember.jit")

# --- ember.jit of a step that clips its gradients: clipped after the average, as eager DDP and one process do ---
net = mlp()
opt = ember.optim.SGD(net.parameters(), lr=0.5)


@ember.jit
def clipped_step(xb, yb):
    opt.zero_grad()
    out = ember.cross_entropy(net(xb), yb)
    out.backward()
    ember.nn.utils.clip_grad_norm_(net.parameters(), 0.05)
    opt.step()
    return out


for k in range(3):
    lo = (k * 16) % 32
    clipped_step(ember.tensor(x_all[lo + r : lo + 16 : n]), ember.tensor(labels[lo + r : lo + 16 : n]))
reference = clipped_reference(3, 0.5)
for a, b in zip(net.parameters(), reference.parameters()):
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=2e-5, atol=2e-6, err_msg="clipped jit")
# the .grad handed back is the average too, as eager DistributedDataParallel leaves it
for a, b in zip(net.parameters(), reference.parameters()):
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=2e-5, atol=2e-7, err_msg="clipped jit .grad")

# --- Model.fit(compile=True): batch 4 per rank ---
net = mlp()
model = Model(net, "cross_entropy", ember.optim.SGD(net.parameters(), lr=0.1), compile=True)
model.fit(x_all, labels, epochs=1, batch_size=4, shuffle=False, verbose=0)
for a, b in zip([p.detach().numpy() for p in net.parameters()], eager_reference(32 // (4 * n), 4 * n, 0.0)):
    np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6, err_msg="Model.fit(compile=True)")
# --- a dynamic loss scale: a step skipped because one rank's gradients overflowed is a bad step on every rank ---
tf.reset_default_graph()
xs = tf.placeholder(tf.float32, [None, 3])
w = tf.Variable(np.ones((3, 1), np.float32))
scale = tf.train.experimental.DynamicLossScale(initial_loss_scale=2.0 ** 10, increment_period=2)
global_step = tf.train.get_or_create_global_step()
optimizer = tf.train.experimental.MixedPrecisionLossScaleOptimizer(tf.train.GradientDescentOptimizer(0.01), scale)
train = optimizer.minimize(tf.reduce_mean(tf.matmul(xs, w) ** 2), global_step=global_step)
with tf.Session() as sess, np.errstate(over="ignore", invalid="ignore"):
    sess.run(tf.global_variables_initializer())
    for k in range(3):  # rank 1's first batch overflows: one process on the global batch skips that step
        sess.run(train, {xs: np.full((2, 3), 1e19 if (k == 0 and r == 1) else 1.0, np.float32)})
    state = sess.run([scale(), scale.good_steps, global_step, w])
assert state[:3] == [1024.0, 0, 2], state  # halved by the skipped step, doubled after the two good ones
np.testing.assert_allclose(state[3].ravel(), np.full(3, 0.94 * 0.94), rtol=1e-6, err_msg="loss-scaled Session")
print(f"compiled data parallel ok on rank {r} of {n}")
