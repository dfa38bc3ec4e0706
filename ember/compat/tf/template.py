"""``tf.make_template``: a function whose variables are made on its first call and shared by the later ones."""

from __future__ import annotations

import functools

from ember.compat.tf._core import get_collection, variable_scope

__all__ = ["Template", "make_template"]


class Template:
    """``func`` called in a variable scope of its own: the first call makes its ``tf.get_variable`` variables,
    later calls reopen the scope with ``reuse=True`` and so share them. A later call that makes a trainable
    variable (``tf.Variable`` where ``tf.get_variable`` was meant) is a ValueError, as in TF-1."""

    def __init__(self, name: str, func, create_scope_now: bool = False, unique_name: str | None = None,
                 custom_getter=None):
        if not name and not unique_name:
            raise ValueError("tf.make_template: name_ cannot be None or empty")
        if not callable(func):
            raise TypeError(f"tf.make_template: func_ must be callable, got {type(func).__name__}")
        self._name, self._func, self._unique_name = name, func, unique_name
        self._custom_getter = custom_getter
        self._variable_scope = None
        self._variables_created = False
        if create_scope_now:
            with variable_scope(unique_name, default_name=name, custom_getter=custom_getter) as scope:
                self._variable_scope = scope

    def _call_func(self, args, kwargs, check_for_new_variables: bool):
        trainable_at_start = len(get_collection("trainable_variables"))
        result = self._func(*args, **kwargs)
        if check_for_new_variables:
            made = get_collection("trainable_variables")[trainable_at_start:]
            if made:
                raise ValueError(f"tf.make_template '{self._name}': trainable variables created when calling the "
                                 f"template after the first time, perhaps tf.Variable where tf.get_variable was "
                                 f"meant: {[v.name for v in made]}")
        return result

    def __call__(self, *args, **kwargs):
        if self._variable_scope is None:
            with variable_scope(self._unique_name, default_name=self._name,
                                custom_getter=self._custom_getter) as scope:
                self._variable_scope = scope
                result = self._call_func(args, kwargs, check_for_new_variables=False)
        elif self._variables_created:
            with variable_scope(self._variable_scope, reuse=True):
                return self._call_func(args, kwargs, check_for_new_variables=True)
        else:  # (the scope was made by create_scope_now_)
            with variable_scope(self._variable_scope):
                result = self._call_func(args, kwargs, check_for_new_variables=False)
        self._variables_created = True
        return result

    @property
    def name(self) -> str:
        return self._name

    @property
    def func(self):
        return self._func

    @property
    def variable_scope(self):
        """The variable scope the template's variables are made in (None before it is made)."""
        return self._variable_scope

    @property
    def variable_scope_name(self) -> str | None:
        """That scope's name with a trailing "/" (so it matches no longer scope name that starts alike)."""
        if self._variable_scope is None:
            return None
        name = self._variable_scope.name
        return name if name.endswith("/") else name + "/"

    def _made(self, key: str) -> list:
        return get_collection(key, self.variable_scope_name) if self._variables_created else []

    @property
    def trainable_variables(self) -> list:
        return self._made("trainable_variables")

    @property
    def global_variables(self) -> list:
        return self._made("variables")

    @property
    def local_variables(self) -> list:
        return self._made("local_variables")

    variables = global_variables


def make_template(name_: str, func_, create_scope_now_: bool = False, unique_name_: str | None = None,
                  custom_getter_=None, **kwargs) -> Template:
    """``func_`` (with ``kwargs`` bound) as a Template: its variables are made on the first call, in the
    variable scope ``name_`` made unique (``name_``, ``name__1``...: TF-1's ``default_name`` rule; exactly
    ``unique_name_`` when given), and reused by every later call. ``create_scope_now_`` fixes the scope when the
    template is made instead of at its first call.

    >>> dense = tf.make_template("dense", lambda x: tf.matmul(x, tf.get_variable("w", [3, 2])))
    >>> y1, y2 = dense(a), dense(b)  # one w
    """
    func = functools.partial(func_, **kwargs) if kwargs else func_
    return Template(name_, func, create_scope_now=create_scope_now_, unique_name=unique_name_,
                    custom_getter=custom_getter_)
