"""Named training recipes for the ``ember train`` command: real models on data bundled with scikit-learn."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import ember
from ember import nn
from ember.callbacks import LearningRateScheduler
from ember.model import Model, Net


@dataclass
class Recipe:
    description: str
    build: Callable  # (lr, seed, epochs, batch_size) -> (model, train, test, metrics, callbacks)
    epochs: int
    batch_size: int
    lr: float
    input_shape: tuple  # one sample's shape, as the network takes it
    input_range: tuple | None = None  # (low, high) of the values the model was trained on, where not standardized


class Standardize(nn.Module):
    """``(x - mean) / std`` with the training split's statistics kept as buffers, so a checkpoint carries
    the preprocessing and ``ember predict`` can take raw features."""

    def __init__(self, mean: np.ndarray, std: np.ndarray):
        super().__init__()
        self.register_buffer("mean", ember.tensor(np.asarray(mean, np.float32)))
        self.register_buffer("std", ember.tensor(np.asarray(std, np.float32)))

    def forward(self, x):
        return (x - self.mean) / self.std


def _digits(images: bool, seed: int):
    from ember.data.datasets import load_digits, train_test_split

    x, y = load_digits(images=images)
    return train_test_split(x, y, test_fraction=0.2, seed=seed, stratify=True)


def digits_cnn(lr: float, seed: int, epochs: int, batch_size: int):
    """A small CNN on 8x8 digits: two conv-batchnorm-relu-pool blocks and a two-layer classifier with
    dropout, trained by Adam with a one-cycle learning-rate schedule."""
    x_train, x_test, y_train, y_test = _digits(images=True, seed=seed)
    net = Net([
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.25), nn.Linear(32 * 2 * 2, 64), nn.ReLU(), nn.Linear(64, 10),
    ])
    optimizer = ember.optim.Adam(net.parameters(), lr=lr)
    steps = epochs * -(-len(x_train) // batch_size)
    schedule = LearningRateScheduler(ember.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=steps),
                                     per_batch=True)
    model = Model(net, nn.CrossEntropyLoss(), optimizer)
    return model, (x_train, y_train), (x_test, y_test), ["accuracy"], [schedule]


def digits_mlp(lr: float, seed: int, epochs: int, batch_size: int):
    """An MLP 64-128-64-10 on flattened digits."""
    x_train, x_test, y_train, y_test = _digits(images=False, seed=seed)
    net = Net([nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)])
    optimizer = ember.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
    return Model(net, nn.CrossEntropyLoss(), optimizer), (x_train, y_train), (x_test, y_test), ["accuracy"], []


def breast_cancer_logistic(lr: float, seed: int, epochs: int, batch_size: int):
    """Logistic regression on the breast-cancer data, features standardised on the training split."""
    from ember.data.datasets import load_breast_cancer, train_test_split

    x, y = load_breast_cancer()
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_fraction=0.2, seed=seed, stratify=True)
    net = Net([Standardize(x_train.mean(0), x_train.std(0) + 1e-8), nn.Linear(x.shape[1], 1), nn.Flatten(0)])
    optimizer = ember.optim.SGD(net.parameters(), lr=lr)
    y_train, y_test = y_train.astype(np.float32), y_test.astype(np.float32)
    model = Model(net, nn.BCEWithLogitsLoss(), optimizer)
    return model, (x_train, y_train), (x_test, y_test), ["accuracy"], []


RECIPES = {
    "digits-cnn": Recipe("CNN on scikit-learn's 8x8 digits", digits_cnn, epochs=12, batch_size=32, lr=3e-3,
                         input_shape=(1, 8, 8), input_range=(0.0, 1.0)),
    "digits-mlp": Recipe("MLP on scikit-learn's digits", digits_mlp, epochs=20, batch_size=32, lr=0.05,
                         input_shape=(64,), input_range=(0.0, 1.0)),
    "breast-cancer": Recipe("logistic regression on breast cancer", breast_cancer_logistic, epochs=30,
                            batch_size=32, lr=0.05, input_shape=(30,)),
}


def _recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; choose one of {sorted(RECIPES)}")
    return RECIPES[name]


def run(name: str, epochs: int | None = None, batch_size: int | None = None, lr: float | None = None,
        seed: int = 0, verbose: int = 1, device: str = "cpu", compile: bool = False, save: str | None = None) -> dict:
    """Train recipe ``name`` on ``device`` (eagerly, or traced with ``compile``), optionally save the
    model to the checkpoint ``save``, and return its final test metrics."""
    recipe = _recipe(name)
    ember.manual_seed(seed)
    epochs, batch_size = epochs or recipe.epochs, batch_size or recipe.batch_size
    model, train, test, metrics, callbacks = recipe.build(lr if lr is not None else recipe.lr, seed, epochs,
                                                          batch_size)
    model = _placed(model, device, compile)
    if verbose:
        print(f"{name}: {recipe.description}; {len(train[0])} training and {len(test[0])} test samples")
    start = time.perf_counter()
    model.fit(*train, epochs=epochs, batch_size=batch_size, validation_data=test, metrics=metrics,
              callbacks=callbacks, verbose=verbose)
    result = model.evaluate(*test, metrics=metrics)
    result["seconds"] = time.perf_counter() - start
    if save:
        from ember.checkpoint import save as save_checkpoint

        save_checkpoint({**model.state_dict(), "recipe": {"name": name, "seed": seed}}, save)
    return result


def _placed(model: Model, device: str, compile: bool) -> Model:
    if device != "cpu":
        model.net.to(device)
    if compile:
        model = Model(model.net, model.loss, model.optimizer, metrics=model.metrics, compile=True)
    return model


def _trained_with(name: str, checkpoint: str) -> int:
    """The seed ``checkpoint`` was trained with, whose split holds its test samples (0 for a checkpoint that
    does not say); a checkpoint of another recipe is a ValueError."""
    from ember.checkpoint import load

    trained = load(checkpoint)
    trained = trained.get("recipe") if isinstance(trained, dict) else None
    if not isinstance(trained, dict):
        return 0
    if trained.get("name") != name:
        raise ValueError(f"{checkpoint} holds a model of recipe {trained.get('name')!r}, not {name!r}")
    return int(trained.get("seed", 0))


def predict(name: str, checkpoint: str, inputs: np.ndarray | None = None, device: str = "cpu",
            batch_size: int = 256) -> tuple[np.ndarray, dict | None]:
    """Class predictions of recipe ``name``'s model restored from ``checkpoint``: for ``inputs`` (rows of
    features, reshaped to the recipe's input shape: breast-cancer's raw, the digits' pixels in [0, 1] as
    ``ember.data.datasets.load_digits`` gives them), or for its test split (the split of the seed it was trained
    with), with the test metrics."""
    recipe = _recipe(name)
    seed = _trained_with(name, checkpoint)
    model, _, test, metrics, _ = recipe.build(recipe.lr, seed, recipe.epochs, recipe.batch_size)
    model = _placed(model, device, False)
    model.load(checkpoint)
    result = None
    if inputs is None:
        inputs = test[0]
        result = model.evaluate(*test, batch_size=batch_size, metrics=metrics)
    if np.iscomplexobj(inputs):  # float32 would drop the imaginary parts with only a ComplexWarning
        raise ValueError(f"{name} takes real-valued samples; the input has dtype {np.asarray(inputs).dtype}")
    inputs = np.asarray(inputs, np.float32)
    size = int(np.prod(recipe.input_shape))
    if inputs.ndim < 2 or int(np.prod(inputs.shape[1:])) != size:
        raise ValueError(f"{name} takes samples of shape {recipe.input_shape} ({size} values each); the input has "
                         f"shape {inputs.shape}")
    low, high = recipe.input_range or (-np.inf, np.inf)
    if inputs.size and not (inputs.min() >= low and inputs.max() <= high):  # (NaN fails too)
        # scikit-learn's raw 0-16 pixels scored 0.37 where the same pixels / 16 score 0.92: refused, not guessed
        raise ValueError(f"{name} takes values in [{low:g}, {high:g}] (the scale it was trained on); the input holds "
                         f"values from {inputs.min():g} to {inputs.max():g} (scikit-learn's raw digits: divide by 16)")
    outputs = model.predict(inputs.reshape(len(inputs), *recipe.input_shape), batch_size=batch_size)
    labels = outputs.argmax(axis=1) if outputs.ndim == 2 else (outputs > 0).astype(np.int64)
    return labels, result
