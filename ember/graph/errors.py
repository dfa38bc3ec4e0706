"""The graph layer's error type."""


class GraphError(ValueError):
    """A malformed graph; the message names the node, its op and the shapes at fault."""
