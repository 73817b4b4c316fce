# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 1. Gradient descent and the learning rate
#
# **Intuition.** Gradient descent walks downhill: $x \leftarrow x - \eta\, f'(x)$.
# The learning rate $\eta$ decides everything: too small and the walk is slow, just
# right and it lands at once, too large and it overshoots, oscillates or runs away.
# On $f(x) = 4x^2$ (so $f'(x) = 8x$) each step multiplies $x$ by $1 - 8\eta$:
# $\eta = 0.125$ lands exactly on the minimum, $0.125 < \eta < 0.25$ oscillates
# towards it, and $\eta > 0.25$ diverges.

# %%
import os

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax

import jaxsched as js

FAST = os.environ.get("JAXSCHED_FAST") == "1"  # CI runs the notebooks in fast mode

# %% [markdown]
# ## A toy problem: $y = 4x^2$ from $x_0 = 2$, four steps


# %%
def f(x):
    return 4 * x**2


def gradient_descent(lr, x0=2.0, steps=4):
    """x before each step, written from scratch."""
    xs = [jnp.float32(x0)]
    for _ in range(steps - 1):
        xs.append(xs[-1] - lr * jax.grad(f)(xs[-1]))
    return jnp.stack(xs)


LRS = [0.01, 0.1, 0.125, 0.2, 0.3]
NAMES = ["slow", "converging", "exact", "oscillating", "diverging"]
paths = {lr: gradient_descent(lr) for lr in LRS}
for lr, name in zip(LRS, NAMES, strict=True):
    print(f"lr={lr:<5} ({name:11}) x: {np.round(np.asarray(paths[lr]), 4)}")

# %% [markdown]
# PyTorch (float32, `x -= lr * dy/dx`) gives the same numbers; they are written
# here so that the notebook needs neither PyTorch nor anything outside the project.

# %%
TORCH_X = {
    0.01: [2.0, 1.840000033378601, 1.6928000450134277, 1.5573760271072388],
    0.1: [2.0, 0.3999999761581421, 0.07999998331069946, 0.015999995172023773],
    0.125: [2.0, 0.0, 0.0, 0.0],
    0.2: [2.0, -1.2000000476837158, 0.7200000286102295, -0.4320000410079956],
    0.3: [2.0, -2.8000001907348633, 3.9200005531311035, -5.488001346588135],
}
for lr in LRS:
    np.testing.assert_allclose(paths[lr], TORCH_X[lr], rtol=1e-6)

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
grid = np.linspace(-6, 6, 200)
right.plot(grid, f(grid), color="0.7")
for (lr, path), style in zip(paths.items(), ["-", "--", "-.", ":", "-"], strict=True):
    left.plot(f(path), style, marker="o", label=f"lr={lr}")
    right.plot(path, f(path), style, marker="o", label=f"lr={lr}")
left.set(xlabel="step", ylabel="loss $4x^2$", yscale="log", title="loss per step")
right.set(xlabel="x", ylabel="y", title="paths on the function", ylim=(-5, 130))
left.legend()
fig.tight_layout()

# %% [markdown]
# ## The same with jaxsched and optax, in one line
#
# `js.sgd(lr)` is `chain(add_weight_decay, scale_by_learning_rate)`: the update is
# $-\eta g$. optax's `sgd` gives the same numbers.


# %%
def run(optimizer, x0=2.0, steps=4):
    x = jnp.float32(x0)
    state = optimizer.init(x)
    xs = []
    for _ in range(steps):
        xs.append(x)
        updates, state = optimizer.update(jax.grad(f)(x), state, x)
        x = optax.apply_updates(x, updates)
    return jnp.stack(xs)


for lr in LRS:
    np.testing.assert_allclose(run(js.sgd(lr)), paths[lr], rtol=1e-6)
    with jax.numpy_dtype_promotion("standard"):
        np.testing.assert_allclose(run(optax.sgd(lr)), paths[lr], rtol=1e-6)
print("jaxsched and optax agree with the loop written by hand")

# %% [markdown]
# ## A sweep over the learning rate with `jax.vmap`
#
# The learning rate is data in jaxsched's optimizer state, so a whole sweep is one
# vmapped program: here 200 rates from 0.001 to 0.3, 20 steps each.


# %%
def final_loss(lr, steps=20):
    optimizer = js.sgd(lr)
    x = jnp.float32(2.0)

    def step(carry, _):
        x, state = carry
        updates, state = optimizer.update(jax.grad(f)(x), state, x)
        return (optax.apply_updates(x, updates), state), None

    (x, _), _ = jax.lax.scan(step, (x, optimizer.init(x)), None, length=steps)
    return f(x)


lrs = jnp.linspace(0.001, 0.3, 50 if FAST else 200)
losses = jax.vmap(final_loss)(lrs)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.semilogy(lrs, losses + 1e-30, "k-")
ax.axvline(0.125, linestyle="--", color="0.5", label="lr = 1/8: one step")
ax.axvline(0.25, linestyle=":", color="0.5", label="lr = 1/4: stability limit")
ax.set(xlabel="learning rate", ylabel="loss after 20 steps")
ax.legend()
print("best learning rate:", float(lrs[jnp.argmin(losses)]))

# %% [markdown]
# ## Batch, stochastic and mini-batch gradient descent
#
# With data, the gradient is an average over examples. *Batch* GD uses all of them
# per step (exact but expensive), *stochastic* GD one example (cheap, noisy),
# *mini-batch* GD a few (the usual compromise).

# %%
key = jax.random.key(0)
n = 512
x_data = jax.random.normal(key, (n, 3))
y_data = x_data @ jnp.array([2.0, -1.0, 0.5]) + 0.1 * jax.random.normal(
    jax.random.key(1), (n,)
)


def mse(w, idx):
    return jnp.mean((x_data[idx] @ w - y_data[idx]) ** 2)


def train(batch_size, steps=200, lr=0.05):
    def step(w, k):
        idx = jax.random.choice(k, n, (batch_size,), replace=False)
        w = w - lr * jax.grad(mse)(w, idx)
        return w, mse(w, jnp.arange(n))

    _, curve = jax.lax.scan(step, jnp.zeros(3), jax.random.split(key, steps))
    return curve


fig, ax = plt.subplots(figsize=(6, 3.5))
for batch_size, style in [(n, "-"), (1, ":"), (32, "--")]:
    label = {n: "batch", 1: "stochastic", 32: "mini-batch (32)"}[batch_size]
    ax.semilogy(train(batch_size), style, label=label)
ax.set(xlabel="step", ylabel="full-data loss")
ax.legend()

# %% [markdown]
# ## Epochs, batches and iterations
#
# An *epoch* is one pass over the data; an *iteration* one update (one batch).
# 50,000 examples in batches of 256 make $\lceil 50000 / 256 \rceil = 196$ batches
# per epoch (the last one has 80 examples), so 10 epochs are 1,960 iterations.

# %%
examples, batch, epochs = 50_000, 256, 10
batches_per_epoch = -(-examples // batch)
assert batches_per_epoch == 196 and batches_per_epoch * epochs == 1_960
print(batches_per_epoch, "batches per epoch,", batches_per_epoch * epochs, "iterations")

# %% [markdown]
# ## Summary
# - Each step multiplies the error by $1 - \eta \lambda$ on a quadratic of curvature
#   $\lambda$: it converges for $0 < \eta < 2/\lambda$, fastest at $\eta = 1/\lambda$.
# - `js.sgd` and `optax.sgd` reproduce the hand-written loop and PyTorch's numbers.
# - The learning rate is data: a sweep over it is one `jax.vmap`.
#
# ## Exercises
# 1. For $f(x) = a x^2$, derive the learning rate that lands in one step, and check
#    it with `final_loss` for $a = 10$.
# 2. Make the mini-batch size a traced argument of `train` (hint: a mask instead of
#    a shape) and vmap over it.
# 3. How many iterations are 3 epochs of 60,000 examples in batches of 128?
