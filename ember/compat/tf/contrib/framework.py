"""``tf.contrib.framework``: ``arg_scope`` (defaults for the arguments of the contrib layers) and the variable
lookups of slim (``get_variables``, ``get_variables_to_restore``...)."""

from __future__ import annotations

import contextlib
import functools

from ember.compat.tf._core import get_collection

__all__ = [
    "add_arg_scope", "arg_scope", "current_arg_scope", "get_model_variables", "get_trainable_variables",
    "get_variables", "get_variables_by_name", "get_variables_to_restore", "has_arg_scope",
]

_ARG_SCOPES: list = [{}]  # a stack: each level maps a function's key to its default keyword arguments


def _key(fn) -> str:
    return getattr(fn, "_key_op", None) or f"{fn.__module__}.{fn.__qualname__}"


def add_arg_scope(fn):
    """``fn`` taking its keyword arguments' defaults from the ``arg_scope`` blocks open when it is called (those
    given in the call win)."""
    key = _key(fn)

    @functools.wraps(fn)
    def scoped(*args, **kwargs):
        defaults = _ARG_SCOPES[-1].get(key)
        return fn(*args, **{**defaults, **kwargs}) if defaults else fn(*args, **kwargs)

    scoped._key_op = key
    return scoped


def has_arg_scope(fn) -> bool:
    """Whether ``fn`` takes defaults from ``arg_scope``."""
    return hasattr(fn, "_key_op")


def current_arg_scope() -> dict:
    """The defaults open now (a dict ``arg_scope`` takes back to reopen them)."""
    return _ARG_SCOPES[-1]


@contextlib.contextmanager
def arg_scope(list_ops_or_scope, **kwargs):
    """Within the block, ``kwargs`` are the defaults of each function in ``list_ops_or_scope`` (which must be
    decorated with ``add_arg_scope``, as the contrib layers are), merged over those of the outer blocks; a dict
    from ``with arg_scope(...) as scope`` reopens that scope as it was. Yields the scope open inside."""
    if isinstance(list_ops_or_scope, dict):
        if kwargs:
            raise ValueError("arg_scope: reopening a saved scope (a dict) takes no keyword arguments")
        scope = list_ops_or_scope
    else:
        if not isinstance(list_ops_or_scope, (list, tuple)):
            raise TypeError(f"arg_scope: list_ops_or_scope must be a list or tuple of functions (or a saved scope), "
                            f"got {type(list_ops_or_scope).__name__}")
        scope = dict(_ARG_SCOPES[-1])
        for fn in list_ops_or_scope:
            if not has_arg_scope(fn):
                raise ValueError(f"arg_scope: {getattr(fn, '__name__', fn)!r} is not decorated with "
                                 "@add_arg_scope")
            scope[_key(fn)] = {**scope.get(_key(fn), {}), **kwargs}
    _ARG_SCOPES.append(scope)
    try:
        yield scope
    finally:
        _ARG_SCOPES.pop()


def _scope_name(scope) -> str | None:
    return getattr(scope, "name", scope)


def get_variables(scope=None, suffix: str | None = None, collection: str = "variables") -> list:
    """The variables of ``collection`` (global by default) whose name ``scope`` (a string or a variable scope)
    matches from its start and, with ``suffix``, that end in it (``.../weights``)."""
    scope = _scope_name(scope)
    if suffix is not None:
        scope = f"{scope or ''}.*{suffix if ':' in suffix else suffix + ':'}"
    return get_collection(collection, scope)


def get_model_variables(scope=None, suffix: str | None = None) -> list:
    """The model variables (``tf.GraphKeys.MODEL_VARIABLES``: those of the contrib layers)."""
    return get_variables(scope, suffix, "model_variables")


def get_trainable_variables(scope=None, suffix: str | None = None) -> list:
    return get_variables(scope, suffix, "trainable_variables")


def get_variables_by_name(given_name: str, scope=None) -> list:
    """The global variables named ``given_name`` (the last part of their name) under ``scope``."""
    return get_variables(scope, suffix=given_name)


def get_variables_to_restore(include=None, exclude=None) -> list:
    """The global variables, or those under the scopes of ``include``, less those under the scopes of
    ``exclude`` (lists of scope names): a ``tf.train.Saver``'s ``var_list`` to restore part of a model."""
    for arg, value in (("include", include), ("exclude", exclude)):
        if value is not None and not isinstance(value, (list, tuple)):
            raise TypeError(f"get_variables_to_restore: {arg} must be a list or tuple of scope names, got "
                            f"{type(value).__name__}")
    chosen = get_variables() if include is None else [v for s in include for v in get_variables(s)]
    dropped = {id(v) for s in exclude or () for v in get_variables(s)}
    return [v for v in chosen if id(v) not in dropped]


def __getattr__(name: str):
    from ember.compat.tf._missing import missing

    raise missing(__name__, name, globals())
