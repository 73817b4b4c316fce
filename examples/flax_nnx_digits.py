"""Train a Flax NNX MLP on scikit-learn's digits with jaxsched's AdamW and schedule.

    python examples/flax_nnx_digits.py [--steps 600]

`nnx.Optimizer` takes any optax transformation: here gradient clipping chained with
`js.adamw` driven by a warmup + cosine schedule. Prints loss and accuracy; reaches
>= 95% validation accuracy.
"""

import argparse

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from tqdm import tqdm

import jaxsched as js
from jaxsched import digits


class MLP(nnx.Module):
    def __init__(self, rngs: nnx.Rngs):
        self.hidden = nnx.Linear(64, 128, rngs=rngs)
        self.out = nnx.Linear(128, 10, rngs=rngs)

    def __call__(self, x):
        return self.out(nnx.relu(self.hidden(x)))


def main(steps: int = 600, batch_size: int = 64) -> float:
    data = digits.load()
    model = MLP(nnx.Rngs(0))
    schedule = js.schedules.warmup_cosine_decay(
        init_value=0.0, peak_value=3e-3, warmup_steps=steps // 10, decay_steps=steps
    )
    tx = optax.chain(
        optax.clip_by_global_norm(1.0), js.adamw(schedule, weight_decay=1e-4)
    )
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)

    def loss_fn(model, x, y):
        return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()

    @nnx.jit
    def train_step(model, optimizer, x, y):
        loss, grads = nnx.value_and_grad(loss_fn)(model, x, y)
        optimizer.update(model, grads)
        return loss

    @nnx.jit
    def accuracy(model, x, y):
        return jnp.mean(jnp.argmax(model(x), -1) == y)

    x, y = data.train
    rng = nnx.Rngs(1)
    bar = tqdm(range(steps), desc="train", mininterval=1.0)
    for step in bar:
        idx = jax.random.randint(rng.data(), (batch_size,), 0, len(y))
        loss = train_step(model, optimizer, x[idx], y[idx])
        if step % 100 == 0 or step == steps - 1:
            bar.set_postfix(loss=f"{float(loss):.3f}")
    train_acc = float(accuracy(model, x, y))
    val_acc = float(accuracy(model, *data.val))
    print(f"train accuracy {train_acc:.4f}, validation accuracy {val_acc:.4f}")
    return val_acc


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=600)
    main(parser.parse_args().steps)
