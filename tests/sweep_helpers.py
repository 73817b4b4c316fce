"""A small train_fn for sweep tests (also run in subprocesses)."""

import jax
import jax.numpy as jnp
import optax

import jaxsched as js

TRACES = []


def train_fn(hparams, key):
    """Least squares with Adam; ``optimizer`` may be a static axis."""
    TRACES.append(1)  # counts traces: one per compilation
    x = jax.random.normal(jax.random.key(0), (64, 4))
    y = x @ jnp.array([1.0, -2.0, 0.5, 3.0])
    w = 0.1 * jax.random.normal(key, (4,))
    kind = hparams.get("optimizer", "adam")
    optimizer = (
        js.adam(hparams["learning_rate"])
        if kind == "adam"
        else js.sgd(hparams["learning_rate"], momentum=0.9)
    )

    def loss(w):
        return jnp.mean((x @ w - y) ** 2)

    def step(carry, _):
        w, state = carry
        value, grads = jax.value_and_grad(loss)(w)
        updates, state = optimizer.update(grads, state, w)
        return (optax.apply_updates(w, updates), state), value

    (w, _), losses = jax.lax.scan(step, (w, optimizer.init(w)), None, length=30)
    return {"final_loss": loss(w), "curve": losses, "extra": {"norm": jnp.sum(w**2)}}
