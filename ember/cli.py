"""The ``ember`` command.

    ember train digits-cnn [--epochs N] [--batch-size B] [--lr LR] [--seed S]
    ember train --list
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


def _launch(args) -> int:
    from ember.distributed.launch import main as launch_main

    return launch_main(args.rest)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["launch"]:  # everything after `launch` belongs to it (and to the script it runs)
        return _launch(argparse.Namespace(rest=argv[1:]))
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
    launch = commands.add_parser("launch", add_help=False, help="run a script as N MPI ranks (the dist extra); "
                                 "ember launch --help for its options")
    launch.add_argument("rest", nargs=argparse.REMAINDER)
    launch.set_defaults(run=_launch)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
