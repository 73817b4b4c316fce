"""The gradient of the validation loss with respect to the learning rate.

    python examples/hypergradient.py [--steps 100] [--updates 20]

The learning rate lives in the optimizer state as data, so `jax.grad` can
differentiate an unrolled training run with respect to it (a hypergradient,
Maclaurin et al. 2015), checked here against a finite difference, and then used to
tune the (log) learning rate by gradient descent.
"""

import argparse

import jax
import jax.numpy as jnp
import optax

import jaxsched as js
from jaxsched import digits


def main(steps: int = 100, updates: int = 20) -> tuple[float, float]:
    data = digits.load()
    params = digits.init_mlp(jax.random.key(0))

    @jax.jit
    def val_loss(log_lr):
        optimizer = js.sgd(jnp.exp(log_lr), momentum=0.9)
        trained, _ = digits.train(optimizer, params, data, steps)
        return digits.loss(trained, data.val)

    log_lr = jnp.log(jnp.float32(1e-3))
    grad = jax.grad(val_loss)(log_lr)
    h = 1e-2
    fd = (val_loss(log_lr + h) - val_loss(log_lr - h)) / (2 * h)
    print(
        f"d val_loss / d log lr at lr=1e-3: {float(grad):.5f} "
        f"(finite difference {float(fd):.5f})"
    )

    tuner = optax.adam(0.2)
    state = tuner.init(log_lr)
    value_and_grad = jax.jit(jax.value_and_grad(val_loss))
    first = float(val_loss(log_lr))
    for i in range(updates):
        value, g = value_and_grad(log_lr)
        step, state = tuner.update(g, state)
        log_lr = optax.apply_updates(log_lr, step)
        if i % 5 == 0 or i == updates - 1:
            print(
                f"update {i:2d}: lr {float(jnp.exp(log_lr)):.4g}, "
                f"validation loss {float(value):.4f}"
            )
    last = float(val_loss(log_lr))
    print(f"validation loss {first:.4f} -> {last:.4f}")
    return first, last


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--updates", type=int, default=20)
    args = parser.parse_args()
    main(args.steps, args.updates)
