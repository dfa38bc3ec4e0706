"""The runtime: graphs compiled to straight-line Python functions, cached per (graph, input signature).

>>> run = ember.runtime.compile_graph(graph)
>>> outputs = run(x_array)
"""

from ember.runtime.codegen import CompiledGraph, compile_graph

__all__ = ["CompiledGraph", "compile_graph"]
