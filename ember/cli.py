"""The ``ember`` command.

    ember train digits-cnn [--epochs N] [--batch-size B] [--lr LR] [--seed S]
    ember train CONFIG.yaml              (a CTR model from a config: see ember.recsys.config)
    ember train --list
"""

from __future__ import annotations

import argparse
import sys


def _train_config(path: str) -> int:
    from ember.recsys.training import train

    metrics = train(path)
    print("eval: " + ", ".join(f"{k} {v:.4f}" for k, v in sorted(metrics.items()) if isinstance(v, float)))
    return 0


def _train(args) -> int:
    from ember import recipes

    if args.recipe and args.recipe.endswith((".yaml", ".yml")):
        return _train_config(args.recipe)

    if args.list or not args.recipe:
        for name, recipe in recipes.RECIPES.items():
            print(f"{name:<16}{recipe.description}")
        return 0 if args.list else 2
    result = recipes.run(args.recipe, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed)
    summary = ", ".join(f"{k} {v:.4f}" for k, v in result.items() if k != "seconds")
    print(f"final test: {summary} ({result['seconds']:.1f}s)")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="ember", description="Ember: train models from the command line.")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train a named recipe on bundled data")
    train.add_argument("recipe", nargs="?", help="recipe name (see --list) or a CTR config .yaml")
    train.add_argument("--list", action="store_true", help="list the recipes")
    train.add_argument("--epochs", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--lr", type=float)
    train.add_argument("--seed", type=int, default=0)
    train.set_defaults(run=_train)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
