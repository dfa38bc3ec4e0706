"""The ``ember`` command.

    ember train digits-cnn [--epochs N] [--batch-size B] [--lr LR] [--seed S]
    ember train --list
    ember profile script.py [args...] [--sort time] [--trace trace.json]
    ember export --standalone model.emb out.py      # NumPy-only inference code (+ out.npz weights)
    ember export model.emb out.onnx                 # ONNX (needs the onnx extra)
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
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
