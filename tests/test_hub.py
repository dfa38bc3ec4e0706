"""``ember.hub``: hubconf entry points from a directory or the cache, weights by URL into the cache."""

import hashlib
import sys
import textwrap

import numpy as np
import pytest

import ember

HUBCONF = textwrap.dedent('''
    """A repository's entry points."""
    dependencies = ["numpy"]

    import ember
    from helpers import width  # a module of the repository itself

    def tiny_mlp(pretrained=False, hidden=width()):
        """A two-layer perceptron."""
        ember.manual_seed(0)
        return ember.nn.Sequential(ember.nn.Linear(3, hidden), ember.nn.ReLU(), ember.nn.Linear(hidden, 2))

    def _private():
        return None
''')


@pytest.fixture
def repo(tmp_path):
    directory = tmp_path / "repo"
    directory.mkdir()
    (directory / "hubconf.py").write_text(HUBCONF)
    (directory / "helpers.py").write_text("def width():\n    return 5\n")
    return directory


@pytest.fixture
def hub_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(ember.hub, "_hub_dir", None)
    monkeypatch.setenv("EMBER_HOME", str(tmp_path / "home"))
    return tmp_path / "home" / "hub"


def test_load_calls_the_entry_point_of_a_local_repository(repo):
    net = ember.hub.load(str(repo), "tiny_mlp", source="local", hidden=4)
    assert isinstance(net, ember.nn.Sequential) and net[0].out_features == 4
    assert ember.hub.load(str(repo), "tiny_mlp", source="local")[0].out_features == 5  # its own helper module
    assert ember.hub.list(str(repo), source="local") == ["tiny_mlp", "width"]  # public callables, as PyTorch lists
    assert ember.hub.help(str(repo), "tiny_mlp", source="local") == "A two-layer perceptron."
    with pytest.raises(RuntimeError, match="cannot find callable resnet in hubconf.py"):
        ember.hub.load(str(repo), "resnet", source="local")
    with pytest.raises(ValueError, match='unknown source "svn"'):
        ember.hub.load(str(repo), "tiny_mlp", source="svn")


def test_an_entry_point_imports_the_repository_modules_when_called(tmp_path):
    # the repository left sys.path once hubconf.py was imported, so an entry point importing a module of the
    # repository when called (a common hubconf pattern) failed with ModuleNotFoundError; torch.hub.load keeps it
    directory = tmp_path / "lazy_repo"
    (directory / "lazy_hub_models").mkdir(parents=True)
    (directory / "lazy_hub_models" / "__init__.py").write_text("")
    (directory / "lazy_hub_models" / "mlp.py").write_text(
        "import ember\n\ndef build(hidden):\n    return ember.nn.Linear(3, hidden)\n")
    (directory / "hubconf.py").write_text(
        "def mlp(hidden=4):\n    from lazy_hub_models.mlp import build\n    return build(hidden)\n")
    net = ember.hub.load(str(directory), "mlp", source="local", hidden=6)
    assert isinstance(net, ember.nn.Linear) and net.out_features == 6
    assert str(directory) not in sys.path


def test_missing_dependencies_are_named(repo):
    (repo / "hubconf.py").write_text('dependencies = ["numpy", "no_such_package_here"]\n')
    with pytest.raises(RuntimeError, match="missing dependencies of .*: no_such_package_here"):
        ember.hub.list(str(repo), source="local")


def test_a_github_repository_comes_from_the_cache(repo, hub_dir):
    with pytest.raises(RuntimeError, match="is not in the hub cache .*owner_models_main"):
        ember.hub.load("owner/models", "tiny_mlp")
    hub_dir.mkdir(parents=True)
    repo.rename(hub_dir / "owner_models_v1")
    assert ember.hub.load("owner/models:v1", "tiny_mlp", hidden=3)[0].out_features == 3
    ember.hub.set_dir(hub_dir.parent / "elsewhere")
    assert ember.hub.get_dir() == str(hub_dir.parent / "elsewhere")


def test_weights_from_a_url_download_once_into_the_cache_and_check_their_hash(tmp_path, hub_dir):
    source = tmp_path / "weights.pt"
    state = {"w": ember.arange(6.0).reshape(2, 3)}
    ember.save(state, source)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    named = tmp_path / f"weights-{digest[:8]}.pt"
    named.write_bytes(source.read_bytes())
    loaded = ember.hub.load_state_dict_from_url(named.as_uri(), check_hash=True)
    np.testing.assert_array_equal(loaded["w"].numpy(), state["w"].numpy())
    cached = hub_dir / "checkpoints" / named.name
    assert cached.exists()
    named.unlink()  # the cached copy serves the next call
    assert ember.hub.load_state_dict_from_url(named.as_uri())["w"].shape == (2, 3)

    wrong = tmp_path / "weights-deadbeef.pt"
    wrong.write_bytes(source.read_bytes())
    with pytest.raises(RuntimeError, match='invalid hash value \\(expected "deadbeef"'):
        ember.hub.load_state_dict_from_url(wrong.as_uri(), check_hash=True)
    assert not (hub_dir / "checkpoints" / wrong.name).exists()
    assert not [p for p in (hub_dir / "checkpoints").iterdir() if p.name.endswith(".partial")]
