"""The ``ember`` command.

    ember train digits-cnn [--epochs N] [--batch-size B] [--lr LR] [--seed S] [--device D] [--compile]
                           [--save CKPT]
    ember train --list
    ember train CONFIG.yaml              (a CTR model from a config: see ember.recsys.config)
    ember predict digits-cnn CKPT [--input FILE.npy|FILE.csv] [--output FILE.csv]
    ember eval digits-cnn CKPT
    ember profile [--sort time] [--trace trace.json] script.py [args...]
    ember export --standalone model.emb out.py      # NumPy-only inference code (+ out.npz weights)
    ember export model.emb out.onnx                 # ONNX, any batch size (needs the onnx extra)
    ember serve MODEL_DIR [--port 8501] [--model-name NAME] [--max-batch-size 64] ...   # the serve extra
    ember --version

Each subcommand is one ``_add_<name>(commands)`` function listed in ``COMMANDS``: adding a command adds one
function. A mistake on the command line is a usage error (exit status 2); a failure while running, such
as a damaged checkpoint, is one ``ember <command>: error: ...`` line (exit status 1), not a traceback; Ctrl-C is
one ``ember <command>: interrupted`` line (exit status 130).
"""

from __future__ import annotations

import argparse
import sys


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def _positive_int(text: str) -> int:
    value = _whole_number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {value}")
    return value


def _version_label(text: str) -> tuple[str, int]:
    """``LABEL=N`` of ``ember serve --version-label``."""
    label, equals, number = text.partition("=")
    if not equals or not label or "/" in label or ":" in label:
        raise argparse.ArgumentTypeError(f"expected LABEL=N (a label without '/' or ':'), got {text!r}")
    return label, _non_negative_int(number)


def _non_negative_int(text: str) -> int:
    value = _whole_number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative whole number, got {value}")
    return value


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def _positive_float(text: str) -> float:
    value = _number(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    value = _number(text)
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a non-negative finite number, got {text}")
    return value


def _port(text: str) -> int:
    value = _whole_number(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 1 to 65535, got {value}")
    return value


def _device(text: str) -> str:
    kind, _, index = text.partition(":")
    if kind not in ("cpu", "cuda") or (index and not index.isdigit()) or (kind == "cpu" and index):
        raise argparse.ArgumentTypeError(f"{text!r} is not a device; use cpu, cuda or cuda:N")
    return text


def _recipes():
    from ember import recipes

    return recipes


def _recipe_name(text: str) -> str:
    if text.endswith((".yaml", ".yml")):  # a CTR training config
        return text
    names = _recipes().RECIPES
    if text not in names:
        raise argparse.ArgumentTypeError(f"unknown recipe {text!r}; choose one of: {', '.join(names)}")
    return text


def _recipe_table() -> str:
    lines = ["recipes (their default epochs, batch size and learning rate):"]
    for name, r in _recipes().RECIPES.items():
        lines.append(f"  {name:<15}{r.description}; epochs {r.epochs}, batch size {r.batch_size}, lr {r.lr:g}")
    return "\n".join(lines)


def _train_config(path: str) -> int:
    from ember.recsys.training import train

    metrics = train(path)
    print("eval: " + ", ".join(f"{k} {v:.4f}" for k, v in sorted(metrics.items()) if isinstance(v, float)))
    return 0


def _check_save_path(args) -> None:
    """A --save path that cannot be written is refused before training, not after it."""
    from ember.checkpoint import check_writable

    try:
        check_writable(args.save)
    except OSError as exc:
        args.parser.error(f"argument --save: {exc}")


def _recipe_options(args) -> list[str]:
    """The recipe options given on the command line (a config sets its own instead)."""
    given = {"--list": args.list, "--epochs": args.epochs, "--batch-size": args.batch_size, "--lr": args.lr,
             "--seed": args.seed is not None, "--device": args.device != "cpu", "--compile": args.compile,
             "--save": args.save}
    return [name for name, value in given.items() if value]


def _train(args) -> int:
    if args.recipe and args.recipe.endswith((".yaml", ".yml")):
        ignored = _recipe_options(args)
        if ignored:
            args.parser.error(f"{', '.join(ignored)}: recipe options, which a config does not take (set epochs, "
                              f"batch_size, lr, seed and model_dir in {args.recipe})")
        return _train_config(args.recipe)
    recipes = _recipes()
    if args.save:
        _check_save_path(args)
    if args.list or not args.recipe:
        print(_recipe_table())
        if not args.list:
            args.parser.error("give a recipe name, or --list")
        return 0
    seed = 0 if args.seed is None else args.seed
    result = recipes.run(args.recipe, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=seed,
                         device=args.device, compile=args.compile, save=args.save)
    summary = ", ".join(f"{k} {v:.4f}" for k, v in result.items() if k != "seconds")
    print(f"final test: {summary} ({result['seconds']:.1f}s)")
    if args.save:
        print(f"saved the model to {args.save}")
    return 0


def _add_train(commands) -> None:
    parser = commands.add_parser(
        "train", help="train a named recipe on bundled data", description="Train a named recipe on bundled data "
        "and report its test metrics.", epilog=_recipe_table(), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe", nargs="?", type=_recipe_name, help="recipe name (see --list), or a CTR config .yaml")
    parser.add_argument("--list", action="store_true", help="list the recipes and exit")
    parser.add_argument("--epochs", type=_positive_int, metavar="N", help="epochs to train (default: the recipe's)")
    parser.add_argument("--batch-size", type=_positive_int, metavar="B", help="batch size (default: the recipe's)")
    parser.add_argument("--lr", type=_positive_float, help="learning rate (default: the recipe's)")
    parser.add_argument("--seed", type=_non_negative_int,  # None when not given: --seed 0 with a config is refused
                        help="random seed of data split and training (default: 0)")
    parser.add_argument("--device", type=_device, default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    parser.add_argument("--compile", action="store_true",
                        help="trace the training step once and run it as generated code (default: eager)")
    parser.add_argument("--save", metavar="CKPT", help="write the trained model to this checkpoint file "
                        "(default: nothing is saved)")
    parser.set_defaults(run=_train, parser=parser)


def _read_inputs(path: str):
    import os

    import numpy as np

    if not path.endswith((".npy", ".csv")):
        raise ValueError(f"--input {path}: expected a .npy or .csv file")
    if not os.path.isfile(path):
        raise ValueError(f"--input {path}: no such file")
    if path.endswith(".npy"):
        try:
            return np.load(path, allow_pickle=False)
        except ValueError:  # not an .npy file, or an array of Python objects: NumPy would unpickle them
            raise ValueError(f"--input {path}: not a .npy array of numbers") from None
    from ember.data import read_csv

    return read_csv(path, target_column=None, header=False)[0]


def _predict(args) -> int:
    from ember.checkpoint import check_writable, write_text

    if args.output:
        try:
            check_writable(args.output)  # before predicting, not after
        except OSError as exc:
            args.parser.error(f"argument --output: {exc}")
    recipes = _recipes()
    inputs = None if args.input is None else _read_inputs(args.input)
    labels, result = recipes.predict(args.recipe, args.checkpoint, inputs, device=args.device,
                                     batch_size=args.batch_size)
    if args.output:
        write_text(args.output, "prediction\n" + "".join(f"{label}\n" for label in labels))
        print(f"wrote {len(labels)} predictions to {args.output}")
    elif inputs is not None:
        print("\n".join(str(label) for label in labels))
    if result is not None:
        print("test: " + ", ".join(f"{k} {v:.4f}" for k, v in result.items()))
    return 0


def _add_predict(commands) -> None:
    parser = commands.add_parser(
        "predict", help="predict with a trained recipe checkpoint", description="Load a checkpoint written by "
        "'ember train RECIPE --save CKPT' and predict: the class of each row of --input, or, without --input, "
        "the metrics on the recipe's test split.", epilog=_recipe_table(),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe", type=_recipe_name, help="the recipe the checkpoint was trained with")
    parser.add_argument("checkpoint", help="checkpoint file from 'ember train --save'")
    parser.add_argument("--input", metavar="FILE", help="samples to predict, one per row: a .npy array or a .csv "
                        "without header (default: the recipe's test split, with metrics)")
    parser.add_argument("--output", metavar="FILE", help="write the predictions to this CSV file (default: print "
                        "them)")
    parser.add_argument("--batch-size", type=_positive_int, default=256, metavar="B", help="(default: 256)")
    parser.add_argument("--device", type=_device, default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    parser.set_defaults(run=_predict, parser=parser)


def _eval(args) -> int:
    _, result = _recipes().predict(args.recipe, args.checkpoint, None, device=args.device, batch_size=args.batch_size)
    print("test: " + ", ".join(f"{k} {v:.4f}" for k, v in result.items()))
    return 0


def _add_eval(commands) -> None:
    parser = commands.add_parser(
        "eval", help="report a trained recipe checkpoint's metrics on its test split",
        description="Load a checkpoint written by 'ember train RECIPE --save CKPT' and print its metrics on the "
        "recipe's test split.", epilog=_recipe_table(), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe", type=_recipe_name, help="the recipe the checkpoint was trained with")
    parser.add_argument("checkpoint", help="checkpoint file from 'ember train --save'")
    parser.add_argument("--batch-size", type=_positive_int, default=256, metavar="B", help="(default: 256)")
    parser.add_argument("--device", type=_device, default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    parser.set_defaults(run=_eval, parser=parser)


def _benchmark_runner() -> str:
    """benchmarks/run.py of the source checkout Ember runs from (the workloads are not part of the package)."""
    import os

    import ember

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(ember.__file__))), "benchmarks", "run.py")
    if not os.path.exists(path):
        raise RuntimeError("the benchmark workloads live in benchmarks/ of a source checkout: install Ember from a "
                           "clone (pip install -e '.[bench]') to run them")
    return path


def _bench(args) -> int:
    import runpy

    sys.argv = ["benchmarks/run.py", *args.rest]
    try:
        runpy.run_path(_benchmark_runner(), run_name="__main__")
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return 0


def _add_bench(commands) -> None:
    parser = commands.add_parser("bench", add_help=False, help="time the standard workloads beside PyTorch, JAX "
                                 "and NumPy (benchmarks/run.py; 'ember bench --help' lists its options)")
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    parser.set_defaults(run=_bench, parser=parser)
def _sort_key(text: str) -> str:
    from ember.profiler.profile import SORT_KEYS

    if text not in SORT_KEYS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a column; choose one of {', '.join(SORT_KEYS)}")
    return text


def _profile(args) -> int:
    import os
    import runpy

    from ember.checkpoint import check_writable
    from ember.profiler import profile

    if args.trace:
        try:
            check_writable(args.trace)  # before the script runs, not after
        except OSError as exc:
            args.parser.error(f"argument --trace: {exc}")

    sys.argv = [args.script, *args.args]
    # the script's folder first on sys.path, as `python script.py` (and cProfile) put it: its own imports find it
    folder = os.path.dirname(os.path.abspath(args.script))
    sys.path.insert(0, folder)
    try:
        with profile() as prof:
            try:
                runpy.run_path(args.script, run_name="__main__")
            except SystemExit as exc:
                if exc.code not in (None, 0):
                    raise
    finally:
        if folder in sys.path:
            sys.path.remove(folder)
    print(prof.table(sort_by=args.sort, row_limit=args.rows), file=sys.stderr)
    if args.trace:
        prof.export_chrome_trace(args.trace)
        print(f"chrome trace written to {args.trace}", file=sys.stderr)
    return 0


def _add_profile(commands) -> None:
    parser = commands.add_parser("profile", help="run a Python script under the profiler and print per-op totals",
                                 description="Run a Python script under ember.profiler and print the time, calls, "
                                 "FLOPs and bytes of each op it ran.")
    parser.add_argument("script", help="the Python script to run")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script (everything after it, "
                        "options included: give ember profile's options before the script)")
    parser.add_argument("--sort", type=_sort_key, default="time",
                        help="sort rows by time, calls, flops, bytes or memory (default: time)")
    parser.add_argument("--rows", type=_positive_int, default=30, help="rows to print (default: 30)")
    parser.add_argument("--trace", help="also write a Chrome trace (JSON) to this path (default: none)")
    parser.set_defaults(run=_profile, parser=parser)


def _export(args) -> int:
    from ember.export import load_model, write_standalone

    if args.standalone:
        ignored = [name for name, given in (("--opset", args.opset is not None), ("--static-batch", args.static_batch))
                   if given]
        if ignored:
            args.parser.error(f"{', '.join(ignored)}: ONNX options, which --standalone (NumPy code) does not take")
        weights = write_standalone(args.model, args.out)
        print(f"wrote {args.out} and {weights}")
        return 0
    if not str(args.out).endswith(".onnx"):
        args.parser.error("give --standalone for Python code, or an output path ending in .onnx")
    import onnx

    from ember.export.batch import with_dynamic_batch
    from ember.onnx import to_onnx

    graph, dynamic_axes = load_model(args.model), None
    if not args.static_batch:
        try:
            graph = with_dynamic_batch(graph)
        except ValueError as exc:
            print(f"ember export: note: the batch size stays the traced one: {exc}", file=sys.stderr)
        else:
            names = [v.name or f"input{i}" for i, v in enumerate(graph.inputs)]
            names += [f"output{i}" for i in range(len(graph.outputs))]
            dynamic_axes = {name: {0: "batch"} for name, v in zip(names, graph.inputs + graph.outputs)
                            if v.array.shape and v.array.shape[0] is None}
    opset = 17 if args.opset is None else args.opset
    onnx.save(to_onnx(graph, opset=opset, dynamic_axes=dynamic_axes), args.out)
    print(f"wrote {args.out}")
    return 0


def _add_export(commands) -> None:
    parser = commands.add_parser("export", help="turn a model file (.emb) into standalone NumPy code or ONNX",
                                 description="Write a model file (ember.export.save_model) as a NumPy-only Python "
                                 "module with its weights (--standalone), or as ONNX (a path ending in .onnx).")
    parser.add_argument("model", help="a model file written by ember.export.save_model")
    parser.add_argument("out", help="the .py module (with --standalone) or the .onnx file to write")
    parser.add_argument("--standalone", action="store_true", help="write NumPy-only Python inference code")
    parser.add_argument("--opset", type=_positive_int, help="ONNX opset (default: 17)")  # None: not given
    parser.add_argument("--static-batch", action="store_true",
                        help="keep the batch size the model was traced at (default: the ONNX file takes any "
                        "batch size, its inputs' and outputs' first axis named 'batch')")
    parser.set_defaults(run=_export, parser=parser)


def _launch(args) -> int:
    from ember.distributed.launch import main as launch_main

    return launch_main(args.rest)


def _add_launch(commands) -> None:
    parser = commands.add_parser("launch", add_help=False, help="run a script as N MPI ranks (the dist extra); "
                                 "'ember launch --help' lists its options")
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    parser.set_defaults(run=_launch, parser=parser)


def _serve(args) -> int:
    import os

    try:
        from ember.serve import ServeOptions, serve, version_numbers
    except ImportError as exc:
        raise ImportError(f"ember serve needs the serve extra (pip install -e '.[serve]'): {exc}") from exc
    version_numbers(args.model_dir)  # a missing directory: one error line
    name = args.model_name or os.path.basename(os.path.normpath(args.model_dir))
    options = ServeOptions(name, args.max_batch_size, args.batch_timeout_ms, args.max_queue, args.deadline_ms,
                           args.max_body_bytes, args.poll_interval, dict(args.version_label or []))
    print(f"serving {args.model_dir} as {name!r} on http://{args.host}:{args.port}/v1/models/{name}:predict")
    serve(args.model_dir, options, args.host, args.port)
    return 0


def _add_serve(commands) -> None:
    parser = commands.add_parser(
        "serve", help="serve a model directory over HTTP (TensorFlow Serving's REST API; the serve extra)",
        description="Serve the highest valid version folder of MODEL_DIR (MODEL_DIR/1/model.onnx, 2/, ...), "
                    "loading newer versions as they appear.")
    parser.add_argument("model_dir", help="a folder of numbered version folders, each holding a model.onnx")
    parser.add_argument("--port", type=_port, default=8501, help="port to listen on (default: 8501)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on, 0.0.0.0 for every interface (default: 127.0.0.1)")
    parser.add_argument("--model-name", help="the NAME in /v1/models/NAME (default: the folder's name)")
    parser.add_argument("--max-batch-size", type=_positive_int, default=64,
                        help="most instances per model call; 1 turns batching off (default: 64)")
    parser.add_argument("--batch-timeout-ms", type=_non_negative_float, default=2.0,
                        help="how long the first request of a batch waits for others (default: 2.0)")
    parser.add_argument("--max-queue", type=_positive_int, default=256,
                        help="requests that may wait; more are answered 503 at once (default: 256)")
    parser.add_argument("--deadline-ms", type=_positive_float, default=1000.0,
                        help="a request still waiting after this long is answered 504 (default: 1000.0)")
    parser.add_argument("--max-body-bytes", type=_positive_int, default=10 * 2**20,
                        help="larger bodies get 413 (default: 10485760)")
    parser.add_argument("--poll-interval", type=_non_negative_float, default=2.0,
                        help="seconds between scans for new versions; 0 loads only the versions there at the "
                        "start (default: 2.0)")
    parser.add_argument("--version-label", type=_version_label, action="append", metavar="LABEL=N",
                        help="serve version N as /v1/models/NAME/labels/LABEL too (TF Serving's version_labels, "
                        "e.g. stable=1); repeatable")
    parser.set_defaults(run=_serve, parser=parser)


COMMANDS = [_add_train, _add_predict, _add_eval, _add_bench, _add_profile, _add_export, _add_serve,
            _add_launch]


def _version() -> str:
    import ember

    return f"ember {ember.__version__} (Python {sys.version.split()[0]})"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["launch"]:  # everything after `launch` belongs to it (and to the script it runs)
        return _launch(argparse.Namespace(rest=argv[1:]))
    if argv[:1] == ["bench"]:  # the runner's own options and --help
        return _bench(argparse.Namespace(rest=argv[1:]))
    parser = argparse.ArgumentParser(prog="ember", description="Ember: train models from the command line.")
    parser.add_argument("--version", action="version", version=_version(), help="print Ember's version and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(commands)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, RuntimeError, ImportError, OSError) as exc:
        print(f"ember {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C: one line and the shell's status for SIGINT, not a traceback
        print(f"ember {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
