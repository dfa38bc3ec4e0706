"""``torch.hub`` on Ember: models published as a ``hubconf.py`` (each public callable an entry point that builds a
model), and weights fetched by URL into a cache.

- ``load(repo_or_dir, model, *args, source="local")`` imports ``repo_or_dir/hubconf.py`` and calls its entry
  point ``model(*args, **kwargs)``; with ``source="github"`` the repository ``"owner/name[:ref]"`` must already be
  in the cache (``get_dir()/owner_name_ref``): Ember does not clone repositories.
- ``load_state_dict_from_url(url)`` downloads once into ``get_dir()/checkpoints`` (any URL ``urllib`` opens,
  ``file://`` included), checks the hash prefix in the file name with ``check_hash=True``, and loads it with
  ``ember.load``.

>>> net = ember.hub.load("path/to/repo", "resnet_small", source="local", pretrained=False)
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import re
import shutil
import sys
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Callable

from ember.checkpoint import load as load_checkpoint

__all__ = ["download_url_to_file", "get_dir", "help", "list", "load", "load_state_dict_from_url", "set_dir"]

_HUBCONF = "hubconf.py"
_hub_dir: str | None = None


def get_dir() -> str:
    """The hub's cache directory: ``set_dir``'s, else ``$EMBER_HOME/hub``, else ``$XDG_CACHE_HOME/ember/hub``
    (``~/.cache/ember/hub``)."""
    if _hub_dir is not None:
        return _hub_dir
    home = os.environ.get("EMBER_HOME")
    if home is None:
        home = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.join(os.path.expanduser("~"), ".cache")), "ember")
    return os.path.join(os.path.expanduser(home), "hub")


def set_dir(d: str | os.PathLike) -> None:
    """Use ``d`` as the hub's cache directory from now on."""
    global _hub_dir
    _hub_dir = os.path.expanduser(os.fspath(d))


def _repo_dir(repo_or_dir: str, source: str) -> str:
    if source not in ("github", "gitlab", "local"):
        raise ValueError(f'hub: unknown source "{source}"; allowed values are "github" | "gitlab" | "local"')
    if source == "local":
        if not os.path.isdir(repo_or_dir):
            raise FileNotFoundError(f"hub: {repo_or_dir!r} is not a directory (source='local' takes the directory "
                                    f"that holds {_HUBCONF})")
        return repo_or_dir
    owner_name, _, ref = repo_or_dir.partition(":")
    if owner_name.count("/") != 1:
        raise ValueError(f"hub: a {source} repository is 'owner/name[:ref]', got {repo_or_dir!r}")
    owner, name = owner_name.split("/")
    refs = [ref] if ref else ["main", "master"]
    for candidate in refs:
        cached = os.path.join(get_dir(), f"{owner}_{name}_{candidate.replace('/', '_')}")
        if os.path.isdir(cached):
            return cached
    raise RuntimeError(
        f"hub: {repo_or_dir!r} is not in the hub cache ({os.path.join(get_dir(), f'{owner}_{name}_{refs[0]}')}); "
        "Ember does not clone repositories: put a checkout there, or pass its directory with source='local'")


@contextlib.contextmanager
def _on_sys_path(repo_dir: str):
    """The repository first on ``sys.path`` while its code runs (its imports expect it), as in ``torch.hub``."""
    sys.path.insert(0, repo_dir)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(repo_dir)


def _hubconf(repo_dir: str):
    """The repository's ``hubconf`` module, imported with the repository on ``sys.path``."""
    path = os.path.join(repo_dir, _HUBCONF)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"hub: {repo_dir!r} has no {_HUBCONF}")
    spec = importlib.util.spec_from_file_location(f"hubconf_{abs(hash(os.path.abspath(path)))}", path)
    module = importlib.util.module_from_spec(spec)
    with _on_sys_path(repo_dir):
        spec.loader.exec_module(module)
    missing = [dep for dep in getattr(module, "dependencies", []) if importlib.util.find_spec(dep) is None]
    if missing:
        raise RuntimeError(f"hub: missing dependencies of {path}: {', '.join(missing)}")
    return module


def _entry(module, model: str) -> Callable:
    if not isinstance(model, str):
        raise ValueError(f"hub: the entry point must be a name (a string), got {type(model).__name__}")
    entry = getattr(module, model, None)
    if entry is None or not callable(entry):
        raise RuntimeError(f"hub: cannot find callable {model} in {_HUBCONF}")
    return entry


def list(github: str, force_reload: bool = False, skip_validation: bool = False, trust_repo=None,  # noqa: A001
         verbose: bool = True, *, source: str = "github") -> list:
    """The entry points of a repository's ``hubconf.py``: its public callables."""
    module = _hubconf(_repo_dir(github, source))
    return [name for name in dir(module) if callable(getattr(module, name)) and not name.startswith("_")]


def help(github: str, model: str, force_reload: bool = False, skip_validation: bool = False,  # noqa: A001
         trust_repo=None, *, source: str = "github") -> str:
    """The docstring of entry point ``model``."""
    return _entry(_hubconf(_repo_dir(github, source)), model).__doc__ or ""


def load(repo_or_dir: str, model: str, *args, source: str = "github", trust_repo=None, force_reload: bool = False,
         verbose: bool = True, skip_validation: bool = False, **kwargs):
    """What entry point ``model`` of the repository's ``hubconf.py`` returns for ``*args, **kwargs`` (called with the
    repository on ``sys.path``, so that it may import the repository's modules, as in ``torch.hub``)."""
    repo_dir = _repo_dir(os.path.expanduser(repo_or_dir) if source == "local" else repo_or_dir, source)
    entry = _entry(_hubconf(repo_dir), model)
    with _on_sys_path(repo_dir):
        return entry(*args, **kwargs)


_HASH_IN_NAME = re.compile(r"-([a-f0-9]*)\.")


def download_url_to_file(url: str, dst: str | os.PathLike, hash_prefix: str | None = None,
                         progress: bool = True) -> None:
    """Copy the object at ``url`` to ``dst`` (written whole or not at all), refusing it when its SHA-256 does not
    start with ``hash_prefix``."""
    dst = os.path.expanduser(os.fspath(dst))
    directory = os.path.dirname(os.path.abspath(dst))
    digest = hashlib.sha256()
    with urllib.request.urlopen(url) as response, tempfile.NamedTemporaryFile(
            dir=directory, prefix=os.path.basename(dst) + ".", suffix=".partial", delete=False) as out:
        try:
            while chunk := response.read(1 << 16):
                out.write(chunk)
                digest.update(chunk)
        except BaseException:
            out.close()
            os.remove(out.name)
            raise
    if hash_prefix is not None and not digest.hexdigest().startswith(hash_prefix):
        os.remove(out.name)
        raise RuntimeError(f'download_url_to_file: invalid hash value (expected "{hash_prefix}", got '
                           f'"{digest.hexdigest()}") for {url}')
    shutil.move(out.name, dst)


def load_state_dict_from_url(url: str, model_dir: str | None = None, map_location=None, progress: bool = True,
                             check_hash: bool = False, file_name: str | None = None,
                             weights_only: bool = False):
    """``ember.load`` of the file at ``url``, downloaded once into ``model_dir`` (``get_dir()/checkpoints``);
    ``check_hash``: the file name's ``-<hex>.`` part must begin its SHA-256."""
    model_dir = model_dir or os.path.join(get_dir(), "checkpoints")
    os.makedirs(model_dir, exist_ok=True)
    name = file_name or os.path.basename(urllib.parse.urlparse(url).path)
    if not name:
        raise ValueError(f"load_state_dict_from_url: {url!r} names no file; pass file_name=")
    cached = os.path.join(model_dir, name)
    if not os.path.exists(cached):
        match = _HASH_IN_NAME.search(name) if check_hash else None
        download_url_to_file(url, cached, match.group(1) if match else None, progress=progress)
    return load_checkpoint(cached, map_location=map_location, weights_only=weights_only)
