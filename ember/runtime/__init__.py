"""The runtime: graphs compiled to straight-line Python functions, cached per (graph, input signature).

>>> run = ember.runtime.compile_graph(graph)      # a graph of known shapes, already through the passes
>>> outputs = run(x_array)
>>> f = ember.runtime.GraphFunction(graph)           # any graph, unknown (None) dimensions included:
>>> outputs = f(x_array)                             # specialized, optimized and compiled per signature
"""

from ember.runtime.codegen import CompiledGraph, compile_graph
from ember.runtime.function import GraphFunction

__all__ = ["CompiledGraph", "GraphFunction", "compile_graph"]
