"""The ``ember`` command: usage errors instead of tracebacks, documented defaults, --version, --save and
``ember predict`` on the saved model."""

import re

import numpy as np
import pytest

from ember import cli


def _usage_error(capsys, argv) -> str:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: ember") and "Traceback" not in err
    return err


@pytest.mark.parametrize("argv, message", [
    (["train", "nope"], "unknown recipe 'nope'; choose one of: digits-cnn"),
    (["train", "digits-mlp", "--epochs", "-3"], "--epochs: must be a positive whole number, got -3"),
    (["train", "digits-mlp", "--epochs", "2.5"], "--epochs: '2.5' is not a whole number"),
    (["train", "digits-mlp", "--seed", "-1"], "--seed: must be a non-negative whole number, got -1"),
    (["train", "digits-mlp", "--lr", "abc"], "--lr: 'abc' is not a number"),
    (["train", "digits-mlp", "--lr", "nan"], "--lr: must be a positive finite number"),
    (["train", "digits-mlp", "--device", "gpu"], "'gpu' is not a device; use cpu, cuda or cuda:N"),
    (["train"], "give a recipe name, or --list"),
    (["train", "breast-cancer", "--save", "no/such/folder/bc.emb"],  # refused before training
     "argument --save: cannot write no/such/folder/bc.emb: the directory"),
    (["train", "deepfm.yaml", "--epochs", "3", "--save", "x.emb"],  # not silently ignored
     "--epochs, --save: recipe options, which a config does not take"),
    (["train", "deepfm.yaml", "--seed", "0"],  # the config's seed was used, --seed 0 silently ignored
     "--seed: recipe options, which a config does not take"),
    (["predict", "digits-mlp"], "the following arguments are required: checkpoint"),
    (["predict", "digits-mlp", "missing.emb", "--output", "no/such/folder/p.csv"],  # refused before predicting
     "argument --output: cannot write no/such/folder/p.csv: the directory"),
    (["profile", "--sort", "nope", "script.py"], "argument --sort: 'nope' is not a column; choose one of time"),
    (["profile", "--trace", "no/such/folder/t.json", "script.py"], "argument --trace: cannot write"),
    (["serve", "models", "--port", "70000"], "--port: must be a port number from 1 to 65535, got 70000"),
    (["serve", "models", "--batch-timeout-ms", "-5"], "--batch-timeout-ms: must be a non-negative finite number"),
    (["serve", "models", "--deadline-ms", "nan"], "--deadline-ms: must be a positive finite number, got nan"),
    (["serve", "models", "--max-queue", "abc"], "--max-queue: 'abc' is not a whole number"),
    (["serve", "models", "--version-label", "stable"], "--version-label: expected LABEL=N"),
    (["serve", "models", "--version-label", "stable=x"], "--version-label: 'x' is not a whole number"),
    (["launch", "-n", "2", "no_such_script.py"], "script no_such_script.py: no such file"),
    (["fly"], "invalid choice: 'fly'"),
    (["export", "--standalone", "m.emb", "m.py", "--opset", "13", "--static-batch"],  # were silently ignored
     "--opset, --static-batch: ONNX options, which --standalone (NumPy code) does not take"),
])
def test_bad_command_lines_are_usage_errors(capsys, argv, message):
    assert message in _usage_error(capsys, argv)


def test_help_documents_defaults_and_version(capsys):
    for argv in (["train", "--help"], ["predict", "--help"], ["--version"]):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(argv)
        assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "(default: 0)" in out and "(default: cpu)" in out and "(default: the recipe's)" in out
    assert "digits-cnn" in out and "epochs 12, batch size 32, lr 0.003" in out
    assert "--save CKPT" in out and "--compile" in out and "(default: 256)" in out
    assert "ember 0.1.0 (Python 3." in out


def test_train_save_then_predict(tmp_path, capsys):
    ckpt = str(tmp_path / "bc.emb")
    assert cli.main(["train", "breast-cancer", "--epochs", "8", "--save", ckpt, "--compile"]) == 0
    out = capsys.readouterr().out
    trained = float(out.split("final test:")[1].split("accuracy")[1].split()[0])
    assert trained >= 0.95 and f"saved the model to {ckpt}" in out

    assert cli.main(["predict", "breast-cancer", ckpt]) == 0
    out = capsys.readouterr().out
    assert float(out.split("accuracy")[1].split()[0]) == pytest.approx(trained)
    assert cli.main(["eval", "breast-cancer", ckpt]) == 0
    assert capsys.readouterr().out.strip() == out.strip().splitlines()[-1]  # the same test metrics

    from ember.data.datasets import load_breast_cancer

    x, y = load_breast_cancer()
    np.save(tmp_path / "rows.npy", x[:50])  # raw features: the checkpoint holds the standardisation
    output = tmp_path / "pred.csv"
    assert cli.main(["predict", "breast-cancer", ckpt, "--input", str(tmp_path / "rows.npy"), "--output",
                     str(output)]) == 0
    predicted = np.array(output.read_text().split()[1:], np.int64)
    assert len(predicted) == 50 and (predicted == y[:50]).mean() >= 0.9

    for name, problem in [("objects.npy", "not a .npy array of numbers"), ("missing.npy", "no such file")]:
        if name == "objects.npy":
            np.save(tmp_path / name, np.array([{"a": 1}]), allow_pickle=True)
        assert cli.main(["predict", "breast-cancer", ckpt, "--input", str(tmp_path / name)]) == 1
        assert capsys.readouterr().err == f"ember predict: error: --input {tmp_path / name}: {problem}\n"
    (tmp_path / "narrow.csv").write_text("1,2,3\n")
    assert cli.main(["predict", "breast-cancer", ckpt, "--input", str(tmp_path / "narrow.csv")]) == 1
    assert "takes samples of shape (30,)" in capsys.readouterr().err
    np.save(tmp_path / "none.npy", np.zeros((0, 30)))  # no samples: no predictions (was NumPy's reshape error)
    assert cli.main(["predict", "breast-cancer", ckpt, "--input", str(tmp_path / "none.npy"), "--output",
                     str(output)]) == 0
    assert output.read_text() == "prediction\n"
    np.save(tmp_path / "complex.npy", x[:5] + 1j)  # was read as its real part, with only a ComplexWarning
    assert cli.main(["predict", "breast-cancer", ckpt, "--input", str(tmp_path / "complex.npy")]) == 1
    assert "takes real-valued samples; the input has dtype complex64" in capsys.readouterr().err
    np.save(tmp_path / "flat.npy", np.zeros(30))
    assert cli.main(["predict", "breast-cancer", ckpt, "--input", str(tmp_path / "flat.npy")]) == 1
    assert "takes samples of shape (30,)" in capsys.readouterr().err
    assert cli.main(["predict", "digits-mlp", ckpt]) == 1  # another recipe's checkpoint: a clear error
    err = capsys.readouterr().err
    assert err == f"ember predict: error: {ckpt} holds a model of recipe 'breast-cancer', not 'digits-mlp'\n"


def test_eval_tests_on_the_split_of_the_training_seed(tmp_path, capsys):
    ckpt = str(tmp_path / "bc.emb")
    assert cli.main(["train", "breast-cancer", "--epochs", "2", "--seed", "3", "--save", ckpt]) == 0
    trained = capsys.readouterr().out.split("final test: ")[1].split(" (")[0]
    assert cli.main(["eval", "breast-cancer", ckpt]) == 0  # not seed 0's split, which holds training samples
    assert capsys.readouterr().out == f"test: {trained}\n"


EXAMPLES = sorted((__import__("pathlib").Path(__file__).resolve().parent.parent / "examples").glob("*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_examples_take_options_and_help_does_not_train(path, capsys, monkeypatch):
    import runpy

    monkeypatch.setattr("sys.argv", [str(path), "--help"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(path), run_name="__main__")
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage:") and "--compile" in out and "(default: " in out
    assert "--epochs" in out
    assert "accuracy" not in out and "loss" not in out  # nothing trained


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_examples_refuse_zero_epochs(path, capsys, monkeypatch):
    import runpy

    monkeypatch.setattr("sys.argv", [str(path), "--epochs", "0"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(path), run_name="__main__")
    assert exit_info.value.code == 2
    assert ": must be at least 1, got 0" in capsys.readouterr().err


def test_an_example_trains_for_the_epochs_asked(capsys, monkeypatch):
    import runpy

    path = next(p for p in EXAMPLES if p.stem == "mlp_digits")
    monkeypatch.setattr("sys.argv", [str(path), "--epochs", "2"])
    runpy.run_path(str(path), run_name="__main__")
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("epoch")]
    assert len(lines) == 2


def test_bench_runs_the_benchmark_runner(capsys):
    assert cli.main(["bench", "W1b1", "--seconds", "0.02", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert "W1b1" in out and "ratios" in out


def test_bench_names_an_unknown_workload(capsys):
    assert cli.main(["bench", "--compile-time", "NOPE"]) == 2
    assert "unknown workloads ['NOPE']; choose from tiny-chain" in capsys.readouterr().err


@pytest.mark.parametrize("option, value", [("--rounds", "0"), ("--seconds", "-1")])
def test_bench_refuses_rounds_and_seconds_that_time_nothing(capsys, option, value):
    assert cli.main(["bench", "W1b1", option, value, "--rounds" if option == "--seconds" else "--seconds", "1"]) == 2
    assert f"argument {option}: must be positive, got {value}" in capsys.readouterr().err


def _flattening_net(fixed: bool = False):
    """A CNN that flattens with x.reshape(x.shape[0], -1); ``fixed`` also adds zeros(x.shape[0], 3), a
    constant of the traced batch size."""
    import ember
    from ember import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.fc = nn.Conv2d(1, 2, 3), nn.Linear(2 * 6 * 6, 3)

        def forward(self, x):
            x = self.conv(x)
            y = self.fc(x.reshape(x.shape[0], -1))
            return y + ember.zeros(x.shape[0], 3) if fixed else y

    return Net()


def _onnx_batch(path) -> list:
    import onnx

    model = onnx.load(str(path))
    return [v.type.tensor_type.shape.dim[0].dim_param or v.type.tensor_type.shape.dim[0].dim_value
            for v in list(model.graph.input) + list(model.graph.output)]


def test_export_makes_the_batch_axis_dynamic_unless_told(tmp_path, capsys):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    import ember

    net = _flattening_net()
    ember.export.save_model(net, ember.randn(4, 1, 8, 8), tmp_path / "model.emb")
    assert cli.main(["export", str(tmp_path / "model.emb"), str(tmp_path / "model.onnx")]) == 0
    assert _onnx_batch(tmp_path / "model.onnx") == ["batch", "batch"]
    session = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    for batch in (1, 7):
        x = np.random.default_rng(batch).standard_normal((batch, 1, 8, 8)).astype(np.float32)
        expected = net(ember.tensor(x)).detach().numpy()
        np.testing.assert_allclose(session.run(None, {"input0": x})[0], expected, rtol=1e-5, atol=1e-6)
    assert cli.main(["export", str(tmp_path / "model.emb"), str(tmp_path / "static.onnx"), "--static-batch"]) == 0
    assert _onnx_batch(tmp_path / "static.onnx") == [4, 4]
    assert "note" not in capsys.readouterr().err


def test_export_keeps_the_traced_batch_where_the_model_fixes_it_and_says_why(tmp_path, capsys):
    pytest.importorskip("onnx")
    import ember

    ember.export.save_model(_flattening_net(fixed=True), ember.randn(4, 1, 8, 8), tmp_path / "model.emb")
    assert cli.main(["export", str(tmp_path / "model.emb"), str(tmp_path / "model.onnx")]) == 0
    assert _onnx_batch(tmp_path / "model.onnx") == [4, 4]
    assert re.search(r"ember export: note: the batch size stays the traced one: const \(node \d+\) has "
                     r"value=array of shape \[4, 3\] at batch 4 and array of shape \[5, 3\] at 5: the traced code "
                     "read the batch size there", capsys.readouterr().err)


def test_export_writes_onnx_that_loads_and_refuses_an_opset_onnx_does_not_know(tmp_path, capsys):
    pytest.importorskip("onnx")
    import ember
    from ember import nn

    net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    x = ember.randn(1, 8)
    ember.export.save_model(net, x, tmp_path / "model.emb")
    assert cli.main(["export", str(tmp_path / "model.emb"), str(tmp_path / "model.onnx")]) == 0
    loaded = ember.onnx.load(str(tmp_path / "model.onnx"))
    np.testing.assert_allclose(loaded(x).detach().numpy(), net(x).detach().numpy(), rtol=1e-5, atol=1e-6)
    capsys.readouterr()
    assert cli.main(["export", str(tmp_path / "model.emb"), str(tmp_path / "new.onnx"), "--opset", "99"]) == 1
    assert "ember export: error: export: opset 99 is not supported; use 13 to " in capsys.readouterr().err
    assert not (tmp_path / "new.onnx").exists()


def test_ctrl_c_is_one_line_and_status_130(capsys, monkeypatch):
    from ember import recipes

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(recipes, "run", interrupted)
    assert cli.main(["train", "digits-mlp", "--epochs", "1"]) == 130  # was a KeyboardInterrupt traceback
    assert capsys.readouterr().err == "ember train: interrupted\n"


def test_digits_predict_refuses_pixels_outside_the_trained_scale(tmp_path, capsys):
    # the digits recipes train on pixels in [0, 1]; scikit-learn's raw 0-16 pixels were taken as they were and
    # scored 0.37 (0.92 divided by 16), silently
    from sklearn.datasets import load_digits

    ckpt = str(tmp_path / "d.emb")
    assert cli.main(["train", "digits-mlp", "--epochs", "2", "--save", ckpt]) == 0
    capsys.readouterr()
    raw = load_digits().data[:20]
    np.save(tmp_path / "raw.npy", raw)
    assert cli.main(["predict", "digits-mlp", ckpt, "--input", str(tmp_path / "raw.npy")]) == 1
    assert "takes values in [0, 1]" in capsys.readouterr().err
    np.save(tmp_path / "scaled.npy", raw / 16)
    assert cli.main(["predict", "digits-mlp", ckpt, "--input", str(tmp_path / "scaled.npy")]) == 0
