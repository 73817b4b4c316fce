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
# # 4. Adagrad and RMSprop: a step size per coordinate
#
# **Intuition.** One learning rate for all coordinates is a compromise: steep
# directions want small steps, flat ones large steps. Adagrad divides each
# coordinate's step by the root of its summed squared gradients,
#
# $$s_t = s_{t-1} + g_t^2, \qquad
#   x_t = x_{t-1} - \eta \frac{g_t}{\sqrt{s_t} + \epsilon},$$
#
# so steep coordinates slow down. But $s_t$ only grows: the effective rate
# $\eta / \sqrt{s_t}$ vanishes and training stalls. RMSprop replaces the sum by an
# exponentially weighted average, $v_t = \rho v_{t-1} + (1 - \rho) g_t^2$, which
# forgets old gradients and keeps the rate alive.

# %%
import os

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax

import jaxsched as js

FAST = os.environ.get("JAXSCHED_FAST") == "1"

# %% [markdown]
# ## The two-step example: $w = 1$, loss $w^2/2$
#
# PyTorch float32 numbers (Adagrad lr 0.01; RMSprop lr 0.01, alpha 0.9), written
# here so that the notebook needs no PyTorch:

# %%
TORCH = {
    "adagrad": [(1.0, 0.9900000095367432), (0.9900000095367432, 0.9829645752906799)],
    "rmsprop": [(1.0, 0.9683772325515747), (0.9683772325515747, 0.9457880258560181)],
}


def scratch_adagrad(w, steps=2, lr=0.01, eps=1e-10):
    s, out = 0.0, []
    for _ in range(steps):
        g = w
        s = s + g * g
        w = w - lr * g / (jnp.sqrt(s) + eps)
        out.append((g, w))
    return out


def scratch_rmsprop(w, steps=2, lr=0.01, rho=0.9, eps=1e-8):
    v, out = 0.0, []
    for _ in range(steps):
        g = w
        v = rho * v + (1 - rho) * g * g
        w = w - lr * g / (jnp.sqrt(v) + eps)
        out.append((g, w))
    return out


def with_optimizer(optimizer, w, steps=2):
    state, out = optimizer.init(w), []
    for _ in range(steps):
        g = w
        updates, state = optimizer.update(g, state, w)
        w = optax.apply_updates(w, updates)
        out.append((g, w))
    return out


w0 = jnp.float32(1.0)
runs = {
    "adagrad": [scratch_adagrad(w0), with_optimizer(js.adagrad(0.01), w0)],
    "rmsprop": [scratch_rmsprop(w0), with_optimizer(js.rmsprop(0.01, decay=0.9), w0)],
}
for name, expected in TORCH.items():
    for run in runs[name]:
        for (g, w), (eg, ew) in zip(run, expected, strict=True):
            np.testing.assert_allclose([g, w], [eg, ew], rtol=1e-6)
    print(name, [(round(float(g), 6), round(float(w), 6)) for g, w in runs[name][1]])

# %% [markdown]
# ## Toy problem: an ill-conditioned quadratic, and Adagrad's vanishing rate


# %%
def loss(p):
    return 0.5 * (0.1 * p[0] ** 2 + 10 * p[1] ** 2)


def trajectory(optimizer, steps):
    p = jnp.array([5.0, 1.0])

    def step(carry, _):
        p, state = carry
        updates, state = optimizer.update(jax.grad(loss)(p), state, p)
        return (optax.apply_updates(p, updates), state), loss(p)

    _, losses = jax.lax.scan(step, (p, optimizer.init(p)), None, length=steps)
    return losses


steps = 100 if FAST else 300
fig, ax = plt.subplots(figsize=(6, 3.5))
for name, opt, style in [
    ("SGD 0.09", js.sgd(0.09), "-"),
    ("Adagrad 0.5", js.adagrad(0.5), "--"),
    ("RMSprop 0.05", js.rmsprop(0.05, decay=0.9), ":"),
]:
    ax.semilogy(trajectory(opt, steps), style, label=name)
ax.set(xlabel="step", ylabel="loss")
ax.legend()

# %%
g = jnp.ones(200)  # a constant gradient of 1
adagrad_rate = 0.5 / jnp.sqrt(jnp.cumsum(g**2))
rmsprop_rate = 0.05 / jnp.sqrt(1 - 0.9 ** jnp.arange(1, 201))  # v_t = 1 - 0.9**t
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.loglog(adagrad_rate, "-", label="Adagrad: 0.5 / sqrt(t)")
ax.loglog(rmsprop_rate, "--", label="RMSprop: settles at 0.05")
ax.set(xlabel="step", ylabel="effective rate for |g| = 1")
ax.legend()

# %% [markdown]
# ## The same with optax
#
# optax's `rmsprop(eps_in_sqrt=False)` is PyTorch's (and jaxsched's) RMSprop; its
# `adagrad` puts eps inside the root and starts the sum at 0.1, so it matches with
# `initial_accumulator_value` set equal and eps = 0.

# %%
with jax.numpy_dtype_promotion("standard"):
    np.testing.assert_allclose(
        trajectory(js.rmsprop(0.05, decay=0.9), 50),
        trajectory(optax.rmsprop(0.05, decay=0.9, eps_in_sqrt=False), 50),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        trajectory(js.adagrad(0.5, initial_accumulator_value=0.1, eps=0.0), 50),
        trajectory(optax.adagrad(0.5, initial_accumulator_value=0.1, eps=0.0), 50),
        rtol=1e-5,
    )
print("jaxsched = optax with matching flags")

# %% [markdown]
# ## A sweep over RMSprop's decay with `jax.vmap`


# %%
def final_loss(decay):
    return trajectory(js.rmsprop(0.05, decay=decay), 100)[-1]


decays = jnp.linspace(0.0, 0.999, 20 if FAST else 60)
finals = jax.vmap(final_loss)(decays)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.semilogy(decays, finals, "k-")
ax.set(xlabel="decay (alpha)", ylabel="loss after 100 steps")
print("best decay:", float(decays[jnp.argmin(finals)]))

# %% [markdown]
# ## Summary
# - Adaptive methods scale each coordinate by the root of its squared gradients.
# - Adagrad's sum makes the rate decay like $1/\sqrt{t}$; RMSprop's average does not.
# - jaxsched follows PyTorch: eps outside the root, Adagrad starts from 0.
#
# ## Exercises
# 1. Add `lr_decay=0.01` to Adagrad: how does the effective rate change?
# 2. Use `centered=True` in RMSprop on a problem whose gradient has a large mean.
# 3. Sweep RMSprop's `eps` over 1e-8 .. 1 with `vmap`: when does it become SGD?
