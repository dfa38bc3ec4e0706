"""The ``ember`` command.

    ember train digits-cnn [--epochs N] [--batch-size B] [--lr LR] [--seed S] [--device D] [--compile]
                           [--save CKPT]
    ember train --list
    ember train CONFIG.yaml              (a CTR model from a config: see ember.recsys.config)
    ember predict digits-cnn CKPT [--input FILE.npy|FILE.csv] [--output FILE.csv]
    ember --version

Each subcommand is one ``_add_<name>(commands)`` function listed in ``COMMANDS``: adding a command adds one
function. A mistake on the command line is a usage error (exit status 2); a failure while running, such
as a damaged checkpoint, is one ``ember <command>: error: ...`` line (exit status 1), not a traceback.
"""

from __future__ import annotations

import argparse
import sys


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text}")
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


def _train(args) -> int:
    if args.recipe and args.recipe.endswith((".yaml", ".yml")):
        return _train_config(args.recipe)
    recipes = _recipes()
    if args.list or not args.recipe:
        print(_recipe_table())
        if not args.list:
            args.parser.error("give a recipe name, or --list")
        return 0
    result = recipes.run(args.recipe, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
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
    parser.add_argument("--seed", type=int, default=0, help="random seed of data split and training (default: 0)")
    parser.add_argument("--device", type=_device, default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    parser.add_argument("--compile", action="store_true",
                        help="trace the training step once and run it as generated code (default: eager)")
    parser.add_argument("--save", metavar="CKPT", help="write the trained model to this checkpoint file "
                        "(default: nothing is saved)")
    parser.set_defaults(run=_train, parser=parser)


def _read_inputs(path: str):
    import numpy as np

    if path.endswith(".npy"):
        return np.load(path, allow_pickle=False)
    if path.endswith(".csv"):
        from ember.data import read_csv

        return read_csv(path, target_column=None, header=False)[0]
    raise ValueError(f"--input {path}: expected a .npy or .csv file")


def _predict(args) -> int:
    recipes = _recipes()
    inputs = None if args.input is None else _read_inputs(args.input)
    labels, result = recipes.predict(args.recipe, args.checkpoint, inputs, device=args.device,
                                     batch_size=args.batch_size)
    if args.output:
        with open(args.output, "w") as f:
            f.write("prediction\n" + "".join(f"{label}\n" for label in labels))
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


def _launch(args) -> int:
    from ember.distributed.launch import main as launch_main

    return launch_main(args.rest)


def _add_launch(commands) -> None:
    parser = commands.add_parser("launch", add_help=False, help="run a script as N MPI ranks (the dist extra); "
                                 "'ember launch --help' lists its options")
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    parser.set_defaults(run=_launch, parser=parser)


COMMANDS = [_add_train, _add_predict, _add_launch]


def _version() -> str:
    import ember

    return f"ember {ember.__version__} (Python {sys.version.split()[0]})"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["launch"]:  # everything after `launch` belongs to it (and to the script it runs)
        return _launch(argparse.Namespace(rest=argv[1:]))
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


if __name__ == "__main__":
    sys.exit(main())
