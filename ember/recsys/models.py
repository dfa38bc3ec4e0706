"""CTR models over a ``CTRBatch``: LR, FM, Wide&Deep, DeepFM, DCN-v2, DLRM, two-tower DSSM and MMoE.

Every model maps a batch to logits, (B,) or (B, tasks) for MMoE, and splits its parameters into
``sparse_parameters()`` (embedding tables: row-sparse gradients, for a sparse optimizer) and
``dense_parameters()`` (the rest). Tables come from ``make_table``: hash tables by default.

>>> model = DeepFM(num_fields=26, num_dense=13, embedding_dim=16, hidden=[400, 400])
>>> logits = model(batch)                       # (B,)
>>> opt_sparse = ember.optim.Adagrad(model.sparse_parameters(), lr=0.05)
>>> opt_dense = ember.optim.Adam(model.dense_parameters(), lr=1e-3)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ember import ops
from ember.creation import zeros
from ember.data.ctr_dataset import CTRBatch
from ember.nn import Module, ModuleList, Parameter
from ember.recsys.layers import CrossNetwork, DenseLinear, DotInteraction, MixtureOfExperts, fm_interaction, mlp
from ember.recsys.tables import FieldEmbedding, make_table
from ember.tensor import Tensor


class CTRModel(Module):
    """Base of the CTR models: holds the field count, dense width and embedding tables' settings."""

    num_tasks = 1

    def __init__(self, num_fields: int, num_dense: int, embedding_dim: int = 16, *, table: str = "hash",
                 num_rows: int = 1 << 20, init_std: float = 0.01, seed: int | None = None):
        super().__init__()
        name = type(self).__name__
        if num_fields < 1 or num_dense < 0 or embedding_dim < 1:
            raise ValueError(f"{name}: needs num_fields >= 1, num_dense >= 0 and embedding_dim >= 1, got "
                             f"{num_fields}, {num_dense}, {embedding_dim}")
        self.num_fields, self.num_dense, self.embedding_dim = num_fields, num_dense, embedding_dim
        self._table_args = {"kind": table, "num_rows": num_rows, "init_std": init_std, "seed": seed}
        self._seed_offset = 0

    def _field_embedding(self, dim: int, init_std: float | None = None) -> FieldEmbedding:
        args = dict(self._table_args)
        if init_std is not None:
            args["init_std"] = init_std
        if args["seed"] is not None:  # each table of a model draws its own rows
            args["seed"] = args["seed"] * 7919 + self._seed_offset
        self._seed_offset += 1
        return FieldEmbedding(make_table(dim, **args))

    def prefetch(self, batch: CTRBatch) -> None:
        """Resolve the batch's table rows ahead of the step (a ``CTRDataset`` ``prepare`` hook)."""
        for m in self.modules():
            if isinstance(m, FieldEmbedding):
                m.prefetch(batch)

    def sparse_parameters(self) -> list:
        """The embedding tables' parameters (row-sparse gradients)."""
        return [p for m in self.modules() if isinstance(m, FieldEmbedding) for p in m.parameters()]

    def dense_parameters(self) -> list:
        """Every parameter outside the embedding tables."""
        sparse = {id(p) for p in self.sparse_parameters()}
        return [p for p in self.parameters() if id(p) not in sparse]

    def _check(self, batch: CTRBatch) -> None:
        fields = batch.keys.shape[1] + len(batch.bags)
        if fields != self.num_fields or batch.dense.shape[1] != self.num_dense:
            raise ValueError(f"{type(self).__name__}: built for {self.num_fields} fields and {self.num_dense} dense "
                             f"features, got a batch with {fields} and {batch.dense.shape[1]}")

    def _deep_input(self, fields: Tensor, dense: Tensor) -> Tensor:
        flat = ops.reshape(fields, (fields.shape[0], self.num_fields * fields.shape[2]))
        return ops.concat([flat, dense], axis=1) if self.num_dense else flat

    @property
    def deep_width(self) -> int:
        return self.num_fields * self.embedding_dim + self.num_dense

    def extra_repr(self) -> str:
        return f"fields={self.num_fields}, dense={self.num_dense}, dim={self.embedding_dim}"


class _FirstOrder(Module):
    """The linear (wide) part: one weight per key, one per dense feature, and a bias."""

    def __init__(self, owner: CTRModel):
        super().__init__()
        self.weights = owner._field_embedding(1, init_std=0.0)
        self.dense = DenseLinear(owner.num_dense) if owner.num_dense else None
        self.bias = Parameter(zeros(1))

    def forward(self, batch: CTRBatch) -> Tensor:
        out = ops.sum(ops.reshape(self.weights(batch), (len(batch), -1)), axis=1) + self.bias
        return out + self.dense(batch.dense) if self.dense is not None else out


class LR(CTRModel):
    """Logistic regression on hashed features (train it with FTRL): ``b + sum_f w[key_f] + dense @ c``.

    >>> LR(num_fields=26, num_dense=13)
    """

    def __init__(self, num_fields: int, num_dense: int, embedding_dim: int = 1, **table):
        super().__init__(num_fields, num_dense, 1, **table)
        self.linear = _FirstOrder(self)

    def forward(self, batch: CTRBatch) -> Tensor:
        self._check(batch)
        return self.linear(batch)


class FM(CTRModel):
    """Factorization machine (Rendle): first-order terms plus ``sum_{i<j} <v_i, v_j>`` over the fields.

    >>> FM(num_fields=26, num_dense=13, embedding_dim=16)
    """

    def __init__(self, num_fields: int, num_dense: int, embedding_dim: int = 16, **table):
        super().__init__(num_fields, num_dense, embedding_dim, **table)
        self.linear = _FirstOrder(self)
        self.embedding = self._field_embedding(embedding_dim)

    def forward(self, batch: CTRBatch) -> Tensor:
        self._check(batch)
        return self.linear(batch) + fm_interaction(self.embedding(batch))


class WideDeep(CTRModel):
    """Wide & Deep (Cheng et al.): a linear wide part plus an MLP on the concatenated embeddings and dense
    features.

    >>> WideDeep(num_fields=26, num_dense=13, embedding_dim=16, hidden=[400, 400])
    """

    def __init__(self, num_fields: int, num_dense: int, embedding_dim: int = 16,
                 hidden: Sequence[int] = (400, 400), **table):
        super().__init__(num_fields, num_dense, embedding_dim, **table)
        self.linear = _FirstOrder(self)
        self.embedding = self._field_embedding(embedding_dim)
        self.deep = mlp(self.deep_width, hidden, 1)

    def forward(self, batch: CTRBatch) -> Tensor:
        self._check(batch)
        deep = ops.reshape(self.deep(self._deep_input(self.embedding(batch), batch.dense)), (-1,))
        return self.linear(batch) + deep


class DeepFM(WideDeep):
    """DeepFM (Guo et al.): FM's first- and second-order terms plus an MLP, sharing one embedding (Wide & Deep's
    parts with FM's pairwise term added).

    >>> DeepFM(num_fields=26, num_dense=13, embedding_dim=16, hidden=[400, 400])
    """

    def forward(self, batch: CTRBatch) -> Tensor:
        self._check(batch)
        fields = self.embedding(batch)
        deep = ops.reshape(self.deep(self._deep_input(fields, batch.dense)), (-1,))
        return self.linear(batch) + fm_interaction(fields) + deep


class DCNv2(CTRModel):
    """DCN-v2 (Wang et al.), stacked: a full-rank cross network on the embeddings and dense features, then
    an MLP.

    >>> DCNv2(num_fields=26, num_dense=13, embedding_dim=16, hidden=[400, 400], cross_layers=3)
    """

    def __init__(self, num_fields: int, num_dense: int, embedding_dim: int = 16,
                 hidden: Sequence[int] = (400, 400), cross_layers: int = 3, **table):
        super().__init__(num_fields, num_dense, embedding_dim, **table)
        self.embedding = self._field_embedding(embedding_dim)
        self.cross = CrossNetwork(self.deep_width, cross_layers)
        self.deep = mlp(self.deep_width, hidden, 1)

    def forward(self, batch: CTRBatch) -> Tensor:
        self._check(batch)
        x = self.cross(self._deep_input(self.embedding(batch), batch.dense))
        return ops.reshape(self.deep(x), (-1,))


class DLRM(CTRModel):
    """DLRM (Naumov et al.): a bottom MLP maps the dense features to one more ``embedding_dim`` vector; the
    pairwise dot products of all vectors, with the bottom output, feed the top MLP.

    >>> DLRM(num_fields=26, num_dense=13, embedding_dim=16, bottom=[64], hidden=[400, 400])
    """

    def __init__(self, num_fields: int, num_dense: int, embedding_dim: int = 16,
                 hidden: Sequence[int] = (400, 400), bottom: Sequence[int] = (64,), **table):
        super().__init__(num_fields, num_dense, embedding_dim, **table)
        if num_dense < 1:
            raise ValueError("DLRM: needs dense features for its bottom MLP (num_dense >= 1)")
        self.embedding = self._field_embedding(embedding_dim)
        self.bottom = mlp(num_dense, list(bottom) + [embedding_dim])
        self.interaction = DotInteraction(num_fields + 1)
        pairs = (num_fields + 1) * num_fields // 2
        self.top = mlp(pairs + embedding_dim, hidden, 1)

    def forward(self, batch: CTRBatch) -> Tensor:
        self._check(batch)
        bottom = self.bottom(batch.dense)
        vectors = ops.concat([ops.unsqueeze(bottom, 1), self.embedding(batch)], axis=1)
        top_in = ops.concat([bottom, self.interaction(vectors)], axis=1)
        return ops.reshape(self.top(top_in), (-1,))


class DSSM(CTRModel):
    """Two-tower DSSM: a user tower on ``user_fields`` (and the dense features) and an item tower on the
    other fields, each an MLP ending in an L2-normalized vector; the logit is ``scale * cosine``.

    >>> DSSM(num_fields=26, num_dense=13, user_fields=range(13), hidden=[128, 64])
    """

    def __init__(self, num_fields: int, num_dense: int, embedding_dim: int = 16,
                 hidden: Sequence[int] = (128, 64), user_fields: Sequence[int] | None = None,
                 scale: float = 10.0, **table):
        super().__init__(num_fields, num_dense, embedding_dim, **table)
        user = list(range(num_fields // 2)) if user_fields is None else sorted(int(f) for f in user_fields)
        item = [f for f in range(num_fields) if f not in user]
        if not user or not item or user[0] < 0 or user[-1] >= num_fields or len(set(user)) != len(user):
            raise ValueError(f"DSSM: user_fields must be a non-empty proper subset of range({num_fields}), each "
                             f"field once, got {user}")
        if not hidden:
            raise ValueError("DSSM: hidden must list at least one tower width")
        self.user_fields, self.item_fields, self.scale = user, item, float(scale)
        self.embedding = self._field_embedding(embedding_dim)
        self.user_tower = mlp(len(user) * embedding_dim + num_dense, list(hidden)[:-1], int(hidden[-1]))
        self.item_tower = mlp(len(item) * embedding_dim, list(hidden)[:-1], int(hidden[-1]))
        self._user_index = Tensor._make(np.asarray(user, np.int64), None)
        self._item_index = Tensor._make(np.asarray(item, np.int64), None)

    @staticmethod
    def _normalize(x: Tensor) -> Tensor:
        return x / ops.sqrt(ops.sum(x * x, axis=1, keepdims=True) + 1e-12)

    def towers(self, batch: CTRBatch) -> tuple[Tensor, Tensor]:
        """The normalized (user, item) vectors, (B, hidden[-1]) each (for retrieval)."""
        self._check(batch)
        fields = self.embedding(batch)
        n, d = len(batch), self.embedding_dim
        user = ops.reshape(ops.take(fields, self._user_index, axis=1), (n, len(self.user_fields) * d))
        if self.num_dense:
            user = ops.concat([user, batch.dense], axis=1)
        item = ops.reshape(ops.take(fields, self._item_index, axis=1), (n, len(self.item_fields) * d))
        return self._normalize(self.user_tower(user)), self._normalize(self.item_tower(item))

    def forward(self, batch: CTRBatch) -> Tensor:
        user, item = self.towers(batch)
        return ops.sum(user * item, axis=1) * self.scale


class MMoE(CTRModel):
    """Multi-gate mixture of experts (Ma et al.): shared experts on the embeddings and dense features, one
    gate and one tower per task; logits (B, num_tasks).

    >>> MMoE(num_fields=26, num_dense=13, num_tasks=2, num_experts=4, expert_hidden=[128], hidden=[64])
    """

    def __init__(self, num_fields: int, num_dense: int, embedding_dim: int = 16, hidden: Sequence[int] = (64,),
                 num_tasks: int = 2, num_experts: int = 4, expert_hidden: Sequence[int] = (128,), **table):
        super().__init__(num_fields, num_dense, embedding_dim, **table)
        self.num_tasks = num_tasks
        self.embedding = self._field_embedding(embedding_dim)
        self.experts = MixtureOfExperts(self.deep_width, expert_hidden, num_experts, num_tasks)
        self.towers = ModuleList([mlp(self.experts.width, hidden, 1) for _ in range(num_tasks)])

    def forward(self, batch: CTRBatch) -> Tensor:
        self._check(batch)
        mixtures = self.experts(self._deep_input(self.embedding(batch), batch.dense))
        return ops.concat([tower(m) for tower, m in zip(self.towers, mixtures)], axis=1)


MODELS = {"lr": LR, "fm": FM, "wide_deep": WideDeep, "deepfm": DeepFM, "dcn_v2": DCNv2, "dlrm": DLRM,
          "dssm": DSSM, "mmoe": MMoE}


def build_model(type: str, num_fields: int, num_dense: int, **options) -> CTRModel:
    """A model by its config name (``MODELS``'s keys) with keyword options (embedding_dim, hidden, table...).

    >>> model = build_model("dcn_v2", 26, 13, embedding_dim=16, hidden=[256, 128])
    """
    if type not in MODELS:
        raise ValueError(f"build_model: unknown model type {type!r}; choose one of {sorted(MODELS)}")
    try:
        return MODELS[type](num_fields, num_dense, **options)
    except TypeError as exc:
        raise TypeError(f"build_model({type!r}): {exc}") from None
