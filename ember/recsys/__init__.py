"""Recommendation models on hashed categorical features: CTR models, their tables, and config-driven training.

>>> from ember.recsys import DeepFM
>>> model = DeepFM(num_fields=26, num_dense=13, embedding_dim=16, hidden=[400, 400])
"""

from ember.recsys.layers import CrossNetwork, DotInteraction, MixtureOfExperts, fm_interaction, mlp
from ember.recsys.models import DLRM, DSSM, FM, LR, MODELS, CTRModel, DCNv2, DeepFM, MMoE, WideDeep, build_model
from ember.recsys.tables import FieldEmbedding, FixedTable, make_table
from ember.recsys.training import Trainer, evaluate, predict, train

__all__ = [
    "DLRM", "DSSM", "FM", "LR", "MODELS", "CTRModel", "CrossNetwork", "DCNv2", "DeepFM", "DotInteraction",
    "FieldEmbedding", "FixedTable", "MMoE", "MixtureOfExperts", "Trainer", "WideDeep", "build_model", "evaluate",
    "fm_interaction", "make_table", "mlp", "predict", "train",
]
