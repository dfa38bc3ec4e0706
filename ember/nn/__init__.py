"""Neural-network building blocks: Module and Parameter, layers, losses, ``init`` and ``functional``.

>>> net = ember.nn.Sequential(ember.nn.Linear(784, 256), ember.nn.ReLU(), ember.nn.Linear(256, 10))
>>> loss = ember.nn.CrossEntropyLoss()(net(ember.randn(64, 784)), ember.randint(0, 10, (64,)))
"""

from ember.nn import attention, functional, init, modules, parallel, utils
from ember.nn.buffer import Buffer
from ember.nn.layers.activation import (
    CELU,
    ELU,
    GELU,
    GLU,
    SELU,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    Mish,
    PReLU,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softmax2d,
    Softmin,
    Softplus,
    Softsign,
    Tanh,
)
from ember.nn.layers.adaptive_softmax import AdaptiveLogSoftmaxWithLoss
from ember.nn.layers.attention import (
    MultiheadAttention,
    TransformerEncoder,
    TransformerEncoderLayer,
    scaled_dot_product_attention,
)
from ember.nn.layers.channel_shuffle import ChannelShuffle
from ember.nn.layers.conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from ember.nn.layers.data_parallel import DataParallel
from ember.nn.layers.deprecated_losses import NLLLoss2d
from ember.nn.layers.dropout import AlphaDropout, Dropout, Dropout1d, Dropout2d, Dropout3d, FeatureAlphaDropout
from ember.nn.layers.embedding import Embedding
from ember.nn.layers.embedding_bag import EmbeddingBag
from ember.nn.layers.flatten import Flatten, Unflatten
from ember.nn.layers.fold import Fold, Unfold
from ember.nn.layers.lazy import LazyLinear
from ember.nn.layers.lazy_conv import (
    LazyConv1d,
    LazyConv2d,
    LazyConv3d,
    LazyConvTranspose1d,
    LazyConvTranspose2d,
    LazyConvTranspose3d,
)
from ember.nn.layers.lazy_norm import (
    LazyBatchNorm1d,
    LazyBatchNorm2d,
    LazyBatchNorm3d,
    LazyInstanceNorm1d,
    LazyInstanceNorm2d,
    LazyInstanceNorm3d,
)
from ember.nn.layers.likelihood_loss import GaussianNLLLoss, PoissonNLLLoss
from ember.nn.layers.linear import Bilinear, Identity, Linear
from ember.nn.layers.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CosineEmbeddingLoss,
    CrossEntropyLoss,
    CTCLoss,
    HingeEmbeddingLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MarginRankingLoss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
    TripletMarginLoss,
)
from ember.nn.layers.lrn import CrossMapLRN2d, LocalResponseNorm
from ember.nn.layers.margin_loss import MultiLabelMarginLoss, MultiLabelSoftMarginLoss, MultiMarginLoss, SoftMarginLoss
from ember.nn.layers.normalization import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
    LayerNorm,
    RMSNorm,
)
from ember.nn.layers.padding import (
    CircularPad1d,
    CircularPad2d,
    CircularPad3d,
    ConstantPad1d,
    ConstantPad2d,
    ConstantPad3d,
    ReflectionPad1d,
    ReflectionPad2d,
    ReflectionPad3d,
    ReplicationPad1d,
    ReplicationPad2d,
    ReplicationPad3d,
    ZeroPad1d,
    ZeroPad2d,
    ZeroPad3d,
)
from ember.nn.layers.pool_variants import (
    FractionalMaxPool2d,
    FractionalMaxPool3d,
    LPPool1d,
    LPPool2d,
    LPPool3d,
    MaxUnpool1d,
    MaxUnpool2d,
    MaxUnpool3d,
)
from ember.nn.layers.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveAvgPool3d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AdaptiveMaxPool3d,
    AvgPool1d,
    AvgPool2d,
    AvgPool3d,
    MaxPool1d,
    MaxPool2d,
    MaxPool3d,
)
from ember.nn.layers.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
from ember.nn.layers.rrelu import RReLU
from ember.nn.layers.shrink import Hardshrink, Softshrink, Tanhshrink, Threshold
from ember.nn.layers.similarity import CosineSimilarity, PairwiseDistance
from ember.nn.layers.sync_batch_norm import SyncBatchNorm
from ember.nn.layers.transformer import Transformer, TransformerDecoder, TransformerDecoderLayer
from ember.nn.layers.triplet_distance import TripletMarginWithDistanceLoss
from ember.nn.layers.upsampling import (
    PixelShuffle,
    PixelUnshuffle,
    Upsample,
    UpsamplingBilinear2d,
    UpsamplingNearest2d,
)
from ember.nn.module import Module, ModuleDict, ModuleList, Sequential
from ember.nn.parameter import Parameter
from ember.nn.parameter_list import ParameterDict, ParameterList
from ember.nn.uninitialized import UninitializedBuffer, UninitializedParameter

__all__ = [
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AvgPool1d", "AvgPool2d", "BCELoss", "BCEWithLogitsLoss", "BatchNorm1d",
    "BatchNorm2d", "Bilinear", "Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d", "CrossEntropyLoss", "Dropout",
    "ELU", "Embedding", "EmbeddingBag", "Flatten", "GELU", "GRU", "GRUCell", "Hardswish", "Hardtanh", "HuberLoss",
    "Identity",
    "L1Loss", "LSTM", "LSTMCell", "LayerNorm", "LeakyReLU", "Linear", "LogSoftmax", "MSELoss", "MaxPool1d", "MaxPool2d",
    "Mish", "Module", "ModuleDict", "ModuleList", "MultiheadAttention", "NLLLoss", "Parameter", "RNN", "RNNCell",
    "ReLU", "ReLU6", "Sequential", "SiLU", "Sigmoid", "SmoothL1Loss", "Softmax", "Softplus", "Tanh",
    "TransformerEncoder", "TransformerEncoderLayer", "Unflatten", "functional", "init", "scaled_dot_product_attention",
]
__all__ += ["Dropout2d", "ParameterList", "attention", "modules", "parallel", "utils"]  # PyTorch-surface additions
__all__ += ["CosineSimilarity", "KLDivLoss", "LogSigmoid", "PReLU", "PairwiseDistance"]
__all__ += ["CELU", "GLU", "Hardsigmoid", "SELU", "Softmin", "Softsign"]
__all__ += ["GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "RMSNorm"]
__all__ += ["ConstantPad1d", "ConstantPad2d", "ReflectionPad1d", "ReflectionPad2d", "ReplicationPad1d",
            "ReplicationPad2d", "ZeroPad1d", "ZeroPad2d"]
__all__ += ["AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "PixelShuffle", "PixelUnshuffle", "Upsample",
            "UpsamplingBilinear2d", "UpsamplingNearest2d"]
__all__ += ["CosineEmbeddingLoss", "Dropout1d", "HingeEmbeddingLoss", "MarginRankingLoss", "ParameterDict",
            "TripletMarginLoss"]
__all__ += ["Transformer", "TransformerDecoder", "TransformerDecoderLayer"]
__all__ += ["Fold", "Unfold"]
__all__ += ["CTCLoss"]
__all__ += ["SyncBatchNorm"]
__all__ += ["AdaptiveAvgPool3d", "AvgPool3d", "BatchNorm3d", "Conv3d", "ConvTranspose3d", "InstanceNorm3d", "MaxPool3d"]
__all__ += ["GaussianNLLLoss", "MultiLabelMarginLoss", "MultiLabelSoftMarginLoss", "MultiMarginLoss", "PoissonNLLLoss",
            "SoftMarginLoss"]
__all__ += ["ChannelShuffle", "LazyLinear", "Softmax2d"]
__all__ += ["Hardshrink", "RReLU", "Softshrink", "Tanhshrink", "Threshold"]
__all__ += ["AlphaDropout", "Dropout3d", "FeatureAlphaDropout"]
__all__ += ["CircularPad1d", "CircularPad2d", "CircularPad3d", "ConstantPad3d", "ReflectionPad3d", "ReplicationPad3d",
            "ZeroPad3d"]
__all__ += ["LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d", "LazyConv1d", "LazyConv2d", "LazyConv3d",
            "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyConvTranspose3d", "LazyInstanceNorm1d",
            "LazyInstanceNorm2d", "LazyInstanceNorm3d", "UninitializedBuffer", "UninitializedParameter"]
__all__ += ["CrossMapLRN2d", "LocalResponseNorm"]
__all__ += ["TripletMarginWithDistanceLoss"]
__all__ += ["AdaptiveLogSoftmaxWithLoss"]
__all__ += ["AdaptiveMaxPool3d", "FractionalMaxPool2d", "FractionalMaxPool3d", "LPPool1d", "LPPool2d", "LPPool3d",
            "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d"]
__all__ += ["Buffer", "DataParallel", "NLLLoss2d", "RNNBase", "RNNCellBase"]
