"""PyTorch's ``torch.nn.modules.rnn`` path to the recurrent layers: the objects of ``ember.nn``."""

from __future__ import annotations

from ember.nn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNBase", "RNNCell", "RNNCellBase"]
