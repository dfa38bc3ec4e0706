"""Every example trains to a stated result (eager and compiled alike), and the demo recipe reaches its
accuracy target."""

import contextlib
import importlib.util
import io
import pathlib

import pytest

from ember import cli

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def _example(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_linear_regression_recovers_w_and_b():
    w, b = _example("linear_regression").main()
    assert w == pytest.approx(3.0, abs=0.05) and b == pytest.approx(0.5, abs=0.05)


def test_logistic_regression_on_breast_cancer():
    assert _example("logistic_regression").main(epochs=20) >= 0.95


def test_mlp_on_digits():
    assert _example("mlp_digits").main(epochs=10) >= 0.95


def test_cnn_on_digits():
    assert _example("cnn_digits").main(epochs=8) >= 0.95


def test_lstm_on_a_sequence_task():
    assert _example("rnn_sequence").main(epochs=12) >= 0.9


def test_autoencoder_beats_the_mean_image():
    assert _example("autoencoder").main(epochs=30) < 0.5


def test_the_demo_recipe_reaches_97_percent(capsys):
    assert cli.main(["train", "digits-cnn"]) == 0
    out = capsys.readouterr().out
    assert "epoch 1/" in out  # progress is printed while it trains
    accuracy = float(out.split("final test:")[1].split("accuracy")[1].split()[0].rstrip(","))
    assert accuracy >= 0.97


def test_cli_lists_recipes(capsys):
    assert cli.main(["train", "--list"]) == 0
    assert "digits-cnn" in capsys.readouterr().out


@pytest.mark.parametrize("name,kwargs", [
    ("linear_regression", {"steps": 60}),
    ("logistic_regression", {"epochs": 2}),
    ("mlp_digits", {"epochs": 2}),
    ("cnn_digits", {"epochs": 1}),
    ("rnn_sequence", {"epochs": 1}),
    ("autoencoder", {"epochs": 2}),
])
def test_every_example_gives_the_same_result_compiled(name, kwargs):
    main = _example(name).main
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(compile=True, **kwargs) == main(compile=False, **kwargs)
