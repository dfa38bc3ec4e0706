"""Graph mode: the IR (``Graph``, ``Node``, ``Value``), its verifier and its reference interpreter.

>>> g = ember.graph.Graph()
>>> x = g.input("x", (2, 3), "float32")
>>> with g.building():
...     g.outputs = [ember.relu(x).sum(axis=1)]
>>> print(g)
"""

from ember.graph.ir import (
    ASSIGN,
    CONST,
    RANDOM,
    SPARSE_UPDATE,
    UPDATE,
    Graph,
    GraphError,
    Node,
    Symbol,
    Value,
    current,
    format_node,
    interpret,
    type_str,
)

__all__ = [
    "ASSIGN", "CONST", "Graph", "GraphError", "Node", "RANDOM", "SPARSE_UPDATE", "Symbol", "UPDATE", "Value", "current",
    "format_node", "interpret", "type_str",
]
