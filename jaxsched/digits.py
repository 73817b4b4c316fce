"""The digits problem of the command line and examples: a 64-128-10 MLP on the
8x8 digits data set that scikit-learn ships (1,797 images, no download).

Needs scikit-learn (``pip install "jaxsched[examples]"``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.custom_derivatives import SymbolicZero

from jaxsched.optimizers import adam, adamw, rmsprop, sgd

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
    """He-initialised dense layers ``w0, b0, w1, b1, ...``; weights are stored
    (out, in), as in ``torch.nn.Linear``."""
    params = {}
    keys = jax.random.split(key, len(sizes) - 1)
    for i, (k, n_in, n_out) in enumerate(zip(keys, sizes[:-1], sizes[1:], strict=True)):
        params[f"w{i}"] = jax.random.normal(k, (n_out, n_in)) * jnp.sqrt(2.0 / n_in)
        params[f"b{i}"] = jnp.zeros(n_out)
    return params


def logits(params: Params, x: jax.Array) -> jax.Array:
    """Class scores ``[batch, classes]`` of the MLP."""
    return _class_major_logits(params, x).T


def _class_major_logits(params: Params, x: jax.Array) -> jax.Array:
    """Class scores ``[classes, batch]``.

    Activations are kept feature-major (``W @ H``, with ``H`` of shape
    ``[features, batch]``): when a sweep vmaps configurations that share a
    minibatch, the first layer is then a single matmul over all configurations,
    and its weight gradient comes out in the weights' own layout (no transpose
    per step). The loss takes them in this layout too: a transpose before the
    softmax made the last layer's weight gradient a batched dot with both
    operands transposed, which XLA's CPU backend runs in its generic loop
    instead of YNNPACK.
    """
    layers = len(params) // 2
    h = x.T
    for i in range(layers):
        w, b = params[f"w{i}"], params[f"b{i}"]
        if i < layers - 1:
            h = jax.nn.relu(w @ h + b[:, None])
        else:
            h = _class_scores(w, h) + b[:, None]
    return h


@jax.custom_jvp
def _class_scores(w: jax.Array, h: jax.Array) -> jax.Array:
    r"""``w @ h`` for the last layer, differentiated in a form XLA's CPU backend
    runs faster.

    Its tangent, :math:`\dot S = \dot W H + W \dot H`, is written so that the
    transposes JAX takes of it for ``grad`` are

    .. math::
        \nabla_W = \nabla_S \, (H^\top), \qquad
        \nabla_H = W^\top \nabla_S = \sum_c W_{c,:}^\top \, \nabla_{S, c,:}:

    a dot against a copy of ``H^T`` (with ``H`` as it is, both operands are
    contracted on their minor dimension, which YNNPACK runs several times slower
    when a sweep batches the dot), and, with 16 classes or fewer, one multiply-add
    per class, which fuses with the ReLU's mask (a batched dot over ten classes
    is slow too). The values are autodiff's up to float rounding; forward mode,
    ``vmap`` and sharding work as for ``w @ h``.
    """
    return w @ h


def _class_scores_jvp(primals, tangents):
    w, h = primals
    dw, dh = tangents  # SymbolicZero where no derivative is taken (integer images)
    terms = []
    if not isinstance(dw, SymbolicZero):
        terms.append(jnp.einsum("cj,bj->cb", dw, jax.lax.optimization_barrier(h.T)))
    if not isinstance(dh, SymbolicZero):
        terms.append(_per_class(w, dh))
    scores = w @ h
    if not terms:
        return scores, jnp.zeros_like(scores)
    return scores, sum(terms[1:], terms[0])


def _per_class(w: jax.Array, dh: jax.Array) -> jax.Array:
    """``w @ dh`` as one multiply-add per class, for 16 classes or fewer in
    float32 or wider (a dot sums bf16 products in float32; these would not)."""
    if len(w) > 16 or min(jnp.finfo(x.dtype).bits for x in (w, dh)) < 32:
        return w @ dh
    return jnp.stack([jnp.sum(w[c][:, None] * dh, axis=0) for c in range(len(w))])


_class_scores.defjvp(_class_scores_jvp, symbolic_zeros=True)


def loss(params: Params, batch: tuple[jax.Array, jax.Array]) -> jax.Array:
    """Mean softmax cross-entropy."""
    x, y = batch
    scores = _class_major_logits(params, x)
    return optax.softmax_cross_entropy_with_integer_labels(scores, y, axis=0).mean()


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


def train_minibatch(
    optimizer: optax.GradientTransformation,
    data: Digits,
    steps: int,
    key: jax.Array,
    batch_size: int = 64,
    loss_fn: Callable[[Params, tuple[jax.Array, jax.Array]], jax.Array] = loss,
) -> tuple[Params, jax.Array]:
    """An MLP initialised and trained from ``key`` on minibatches (drawn with
    replacement) to minimise ``loss_fn`` (default :func:`loss`); returns its
    params and the training loss of every step."""
    init_key, data_key = jax.random.split(key)
    params = init_mlp(init_key)
    x, y = data.train

    def step(carry, k):
        params, state = carry
        idx = jax.random.randint(k, (batch_size,), 0, x.shape[0])
        value, grads = jax.value_and_grad(loss_fn)(params, (x[idx], y[idx]))
        updates, state = optimizer.update(grads, state, params)
        return (optax.apply_updates(params, updates), state), value

    (params, _), losses = jax.lax.scan(
        step, (params, optimizer.init(params)), jax.random.split(data_key, steps)
    )
    return params, losses


#: The optimizers of ``jaxsched sweep`` and ``lr-find``: name -> (label, factory
#: of the learning rate).
OPTIMIZERS = {
    "sgd": ("SGD, momentum 0.9", lambda lr: sgd(lr, momentum=0.9)),
    "rmsprop": ("RMSprop", lambda lr: rmsprop(lr)),
    "adam": ("Adam", lambda lr: adam(lr)),
    "adamw": ("AdamW, decay 1e-4", lambda lr: adamw(lr, weight_decay=1e-4)),
}


def nnx_mlp(key: jax.Array, sizes: tuple[int, ...] = (64, 128, 10)):
    """The same MLP as a Flax NNX module (needs flax)."""
    from flax import nnx

    class MLP(nnx.Module):
        def __init__(self, rngs: nnx.Rngs):
            pairs = zip(sizes[:-1], sizes[1:], strict=True)
            self.layers = nnx.List([nnx.Linear(i, o, rngs=rngs) for i, o in pairs])

        def __call__(self, x):
            for layer in self.layers[:-1]:
                x = nnx.relu(layer(x))
            return self.layers[-1](x)

    return MLP(nnx.Rngs(key))


def sweep_train_fn(data: Digits, steps: int = 400, batch_size: int = 64):
    """``train_fn(hparams, key)`` for ``js.sweep``: an NNX MLP trained on minibatches.

    ``hparams``: ``learning_rate`` (swept), ``optimizer`` (a key of
    :data:`OPTIMIZERS`) and ``schedule`` (``"constant"`` or
    ``"warmup_cosine"``: 10% linear warmup, then cosine to 0), both static.
    Returns validation accuracy and loss, and the training loss every step.
    """
    from flax import nnx

    from jaxsched.schedules import warmup_cosine_decay

    x, y = data.train
    num_examples = x.shape[0]

    def train_fn(hparams, key):
        init_key, data_key = jax.random.split(key)
        graphdef, params = nnx.split(nnx_mlp(init_key), nnx.Param)
        lr = hparams["learning_rate"]
        if hparams["schedule"] == "warmup_cosine":
            lr = warmup_cosine_decay(0.0, lr, steps // 10, steps)
        optimizer = OPTIMIZERS[hparams["optimizer"]][1](lr)

        def batch_loss(params, batch):
            bx, by = batch
            out = nnx.merge(graphdef, params)(bx)
            return optax.softmax_cross_entropy_with_integer_labels(out, by).mean()

        def step(carry, k):
            params, state = carry
            idx = jax.random.randint(k, (batch_size,), 0, num_examples)
            value, grads = jax.value_and_grad(batch_loss)(params, (x[idx], y[idx]))
            updates, state = optimizer.update(grads, state, params)
            return (optax.apply_updates(params, updates), state), value

        (params, _), losses = jax.lax.scan(
            step, (params, optimizer.init(params)), jax.random.split(data_key, steps)
        )
        out = nnx.merge(graphdef, params)(data.x_val)
        return {
            "val_accuracy": jnp.mean(jnp.argmax(out, -1) == data.y_val),
            "val_loss": optax.softmax_cross_entropy_with_integer_labels(
                out, data.y_val
            ).mean(),
            "train_loss": losses,
        }

    return train_fn
