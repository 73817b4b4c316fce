"""The digits problem of the command line and examples: a 64-128-10 MLP on the
8x8 digits data set that scikit-learn ships (1,797 images, no download).

Needs scikit-learn (``pip install "jaxsched[examples]"``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

Params = dict[str, jax.Array]


class Digits(NamedTuple):
    """Standardised images and integer labels, split into train and validation."""

    x_train: jax.Array
    y_train: jax.Array
    x_val: jax.Array
    y_val: jax.Array

    @property
    def train(self) -> tuple[jax.Array, jax.Array]:
        return self.x_train, self.y_train

    @property
    def val(self) -> tuple[jax.Array, jax.Array]:
        return self.x_val, self.y_val


def load(val_fraction: float = 0.2, seed: int = 0) -> Digits:
    """The digits data, shuffled with ``seed`` and standardised on the train split."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:  # pragma: no cover - depends on the install
        raise ImportError(
            'The digits problem needs scikit-learn: pip install "jaxsched[examples]".'
        ) from error
    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order].astype(np.float32), y[order].astype(np.int32)
    n_val = int(len(x) * val_fraction)
    mean, std = x[n_val:].mean(0), x[n_val:].std(0) + 1e-3
    x = (x - mean) / std
    return Digits(
        jnp.asarray(x[n_val:]),
        jnp.asarray(y[n_val:]),
        jnp.asarray(x[:n_val]),
        jnp.asarray(y[:n_val]),
    )


def init_mlp(key: jax.Array, sizes: tuple[int, ...] = (64, 128, 10)) -> Params:
    """He-initialised dense layers ``w0, b0, w1, b1, ...``."""
    params = {}
    keys = jax.random.split(key, len(sizes) - 1)
    for i, (k, n_in, n_out) in enumerate(zip(keys, sizes[:-1], sizes[1:], strict=True)):
        params[f"w{i}"] = jax.random.normal(k, (n_in, n_out)) * jnp.sqrt(2.0 / n_in)
        params[f"b{i}"] = jnp.zeros(n_out)
    return params


def logits(params: Params, x: jax.Array) -> jax.Array:
    layers = len(params) // 2
    for i in range(layers):
        x = x @ params[f"w{i}"] + params[f"b{i}"]
        if i < layers - 1:
            x = jax.nn.relu(x)
    return x


def loss(params: Params, batch: tuple[jax.Array, jax.Array]) -> jax.Array:
    """Mean softmax cross-entropy."""
    x, y = batch
    return optax.softmax_cross_entropy_with_integer_labels(logits(params, x), y).mean()


def accuracy(params: Params, batch: tuple[jax.Array, jax.Array]) -> jax.Array:
    x, y = batch
    return jnp.mean(jnp.argmax(logits(params, x), axis=-1) == y)


def train(
    optimizer: optax.GradientTransformation,
    params: Params,
    data: Digits,
    steps: int,
) -> tuple[Params, jax.Array]:
    """Full-batch training for ``steps`` updates; returns params and train losses."""

    def step(carry: Any, _):
        params, state = carry
        value, grads = jax.value_and_grad(loss)(params, data.train)
        updates, state = optimizer.update(grads, state, params)
        return (optax.apply_updates(params, updates), state), value

    (params, _), losses = jax.lax.scan(
        step, (params, optimizer.init(params)), None, length=steps
    )
    return params, losses
