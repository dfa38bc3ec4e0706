"""The ``ember`` command.

    ember train digits-cnn [--epochs N] [--batch-size B] [--lr LR] [--seed S]
    ember train --list
    ember profile script.py [args...] [--sort time] [--trace trace.json]
    ember export --standalone model.emb out.py      # NumPy-only inference code (+ out.npz weights)
    ember export model.emb out.onnx                 # ONNX (needs the onnx extra)
    ember serve MODEL_DIR [--port 8501] [--model-name NAME] [--max-batch-size 64] ...   # the serve extra
"""

from __future__ import annotations

import argparse
import sys


def _train(args) -> int:
    from ember import recipes

    if args.list or not args.recipe:
        for name, recipe in recipes.RECIPES.items():
            print(f"{name:<16}{recipe.description}")
        return 0 if args.list else 2
    result = recipes.run(args.recipe, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed)
    summary = ", ".join(f"{k} {v:.4f}" for k, v in result.items() if k != "seconds")
    print(f"final test: {summary} ({result['seconds']:.1f}s)")
    return 0


def _profile(args) -> int:
    import runpy

    from ember.profiler import profile

    sys.argv = [args.script, *args.args]
    with profile() as prof:
        try:
            runpy.run_path(args.script, run_name="__main__")
        except SystemExit as exc:
            if exc.code not in (None, 0):
                raise
    print(prof.table(sort_by=args.sort, row_limit=args.rows), file=sys.stderr)
    if args.trace:
        prof.export_chrome_trace(args.trace)
        print(f"chrome trace written to {args.trace}", file=sys.stderr)
    return 0


def _export(args) -> int:
    from ember.export import load_model, write_standalone

    if args.standalone:
        weights = write_standalone(args.model, args.out)
        print(f"wrote {args.out} and {weights}")
        return 0
    if not str(args.out).endswith(".onnx"):
        print("ember export: give --standalone for Python code, or an output path ending in .onnx", file=sys.stderr)
        return 2
    import onnx

    from ember.onnx import to_onnx

    onnx.save(to_onnx(load_model(args.model), opset=args.opset), args.out)
    print(f"wrote {args.out}")
    return 0


def _serve(args) -> int:
    import os

    try:
        from ember.serve import ServeOptions, serve, version_numbers
    except ImportError as exc:
        print(f"ember serve needs the serve extra (pip install -e '.[serve]'): {exc}", file=sys.stderr)
        return 2
    try:
        version_numbers(args.model_dir)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    name = args.model_name or os.path.basename(os.path.normpath(args.model_dir))
    options = ServeOptions(name, args.max_batch_size, args.batch_timeout_ms, args.max_queue, args.deadline_ms,
                           args.max_body_bytes, args.poll_interval)
    print(f"serving {args.model_dir} as {name!r} on http://{args.host}:{args.port}/v1/models/{name}:predict")
    serve(args.model_dir, options, args.host, args.port)
    return 0


def _positive(kind):
    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    return parse


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="ember", description="Ember: train models from the command line.")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train a named recipe on bundled data")
    train.add_argument("recipe", nargs="?", help="recipe name (see --list)")
    train.add_argument("--list", action="store_true", help="list the recipes")
    train.add_argument("--epochs", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--lr", type=float)
    train.add_argument("--seed", type=int, default=0)
    train.set_defaults(run=_train)
    prof = commands.add_parser("profile", help="run a Python script under the profiler and print per-op totals")
    prof.add_argument("script")
    prof.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script")
    prof.add_argument("--sort", default="time", help="sort rows by time, calls, flops, bytes or memory")
    prof.add_argument("--rows", type=int, default=30, help="rows to print")
    prof.add_argument("--trace", help="also write a Chrome trace (JSON) to this path")
    prof.set_defaults(run=_profile)
    export = commands.add_parser("export", help="turn a model file (.emb) into standalone NumPy code or ONNX")
    export.add_argument("model", help="a model file written by ember.export.save_model")
    export.add_argument("out", help="the .py module (with --standalone) or the .onnx file to write")
    export.add_argument("--standalone", action="store_true", help="write NumPy-only Python inference code")
    export.add_argument("--opset", type=int, default=17, help="ONNX opset (ONNX output)")
    export.set_defaults(run=_export)
    serve = commands.add_parser(
        "serve", help="serve a model directory over HTTP (TensorFlow Serving's REST API)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Serve the highest valid version folder of MODEL_DIR (MODEL_DIR/1/model.onnx, 2/, ...), "
                    "loading newer versions as they appear.")
    serve.add_argument("model_dir")
    serve.add_argument("--port", type=int, default=8501, help="port to listen on")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 for every interface)")
    serve.add_argument("--model-name", help="the NAME in /v1/models/NAME (default: the folder's name)")
    serve.add_argument("--max-batch-size", type=_positive(int), default=64,
                       help="most instances per model call; 1 turns batching off")
    serve.add_argument("--batch-timeout-ms", type=float, default=2.0,
                       help="how long the first request of a batch waits for others")
    serve.add_argument("--max-queue", type=_positive(int), default=256,
                       help="requests that may wait; more are answered 503 at once")
    serve.add_argument("--deadline-ms", type=_positive(float), default=1000.0,
                       help="a request still waiting after this long is answered 504")
    serve.add_argument("--max-body-bytes", type=_positive(int), default=10 * 2**20, help="larger bodies get 413")
    serve.add_argument("--poll-interval", type=float, default=2.0, help="seconds between scans for new versions")
    serve.set_defaults(run=_serve)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
