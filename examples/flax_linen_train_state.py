"""Train a Flax linen MLP on digits with `TrainState` and a jaxsched optimizer.

    python examples/flax_linen_train_state.py [--steps 600]

`TrainState.create(tx=...)` takes jaxsched's optimizers like optax's; the learning
rate is a one-cycle schedule. Reaches >= 95% validation accuracy.
"""

import argparse

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax.training import train_state
from tqdm import tqdm

import jaxsched as js
from jaxsched import digits


class MLP(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(10)(nn.relu(nn.Dense(128)(x)))


def main(steps: int = 600, batch_size: int = 64) -> float:
    data = digits.load()
    x, y = data.train
    model = MLP()
    params = model.init(jax.random.key(0), x[:1])["params"]
    schedule = js.schedules.one_cycle(max_value=0.1, total_steps=steps)
    state = train_state.TrainState.create(
        apply_fn=model.apply, params=params, tx=js.sgd(schedule, momentum=0.9)
    )

    @jax.jit
    def train_step(state, idx):
        def loss_fn(params):
            logits = state.apply_fn({"params": params}, x[idx])
            return optax.softmax_cross_entropy_with_integer_labels(
                logits, y[idx]
            ).mean()

        loss, grads = jax.value_and_grad(loss_fn)(state.params)
        return state.apply_gradients(grads=grads), loss

    @jax.jit
    def accuracy(params, x, y):
        return jnp.mean(jnp.argmax(model.apply({"params": params}, x), -1) == y)

    keys = jax.random.split(jax.random.key(1), steps)
    bar = tqdm(range(steps), desc="train", mininterval=1.0)
    for step in bar:
        idx = jax.random.randint(keys[step], (batch_size,), 0, len(y))
        state, loss = train_step(state, idx)
        if step % 100 == 0 or step == steps - 1:
            bar.set_postfix(loss=f"{float(loss):.3f}")
    val_acc = float(accuracy(state.params, *data.val))
    print(
        f"train accuracy {float(accuracy(state.params, x, y)):.4f}, "
        f"validation accuracy {val_acc:.4f}"
    )
    return val_acc


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=600)
    main(parser.parse_args().steps)
