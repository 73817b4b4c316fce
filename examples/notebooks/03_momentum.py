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
# # 3. Momentum: heavy ball, the EMA form and Nesterov
#
# **Intuition.** Plain gradient descent zig-zags across narrow valleys and crawls
# over flat regions. Momentum keeps a velocity, an average of past gradients, so
# consistent directions add up and oscillating ones cancel:
#
# $$b_t = \mu b_{t-1} + g_t, \qquad x_t = x_{t-1} - \eta b_t$$
#
# (heavy ball; PyTorch starts with $b_1 = g_1$).
#
# The *EMA form* of the tutorials, $s_t = \beta s_{t-1} + (1-\beta) g_t$, is the
# same direction scaled by $1 - \beta$: with $s_0 = 0$ it is exactly $(1-\beta)
# b_t$. *Nesterov* looks ahead: it uses $g_t + \mu b_t$.

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
# ## The two-step example: $w = 1$, loss $w^2/2$, lr 0.01, momentum 0.9
#
# PyTorch's `SGD(lr=0.01, momentum=0.9)` in float32 gives these gradients and
# weights (written here so the notebook needs no PyTorch):

# %%
TORCH = [
    {"grad": 1.0, "weight": 0.9900000095367432},
    {"grad": 0.9900000095367432, "weight": 0.9711000323295593},
]

w, b = jnp.float32(1.0), jnp.float32(0.0)  # from scratch
optimizer = js.sgd(0.01, momentum=0.9)  # and with jaxsched
w_js = jnp.float32(1.0)
state = optimizer.init(w_js)
for t, expected in enumerate(TORCH, 1):
    g = w  # d(w^2/2)/dw
    b = g if t == 1 else 0.9 * b + g
    w = w - 0.01 * b
    updates, state = optimizer.update(w_js, state, w_js)
    w_js = optax.apply_updates(w_js, updates)
    print(f"step {t}: grad {float(g):.4f}, weight {float(w):.4f}")
    assert float(g) == expected["grad"] and float(w) == expected["weight"]
    assert float(w_js) == expected["weight"]

# %% [markdown]
# ## An ill-conditioned quadratic and a saddle point


# %%
def ill(p):  # curvature 1 along x, 50 along y
    return 0.5 * (p[0] ** 2 + 50 * p[1] ** 2)


def saddle(p):  # a saddle at 0, escaping along y
    return p[0] ** 2 - p[1] ** 2 + 0.25 * p[1] ** 4


def path(optimizer, loss, start, steps=60):
    p = jnp.asarray(start)

    def step(carry, _):
        p, state = carry
        updates, state = optimizer.update(jax.grad(loss)(p), state, p)
        p = optax.apply_updates(p, updates)
        return (p, state), p

    _, ps = jax.lax.scan(step, (p, optimizer.init(p)), None, length=steps)
    return np.vstack([np.asarray(start)[None], np.asarray(ps)])


LR = 0.025  # Nesterov needs lr * 50 < 2 (1 + mu) / (1 + 2 mu) = 1.36, see below
configs = {
    "gradient descent": js.sgd(LR),
    "heavy ball 0.9": js.sgd(LR, momentum=0.9),
    "EMA form 0.9": optax.chain(
        js.scale_by_momentum(0.9, 0.9, zero_init=True),
        js.scale_by_learning_rate(LR / (1 - 0.9)),
    ),
    "Nesterov 0.9": js.sgd(LR, momentum=0.9, nesterov=True),
}
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
for (name, opt), style in zip(configs.items(), ["-", "--", "-.", ":"], strict=True):
    q = path(opt, ill, [-4.0, 1.0])
    axes[0].plot(q[:, 0], q[:, 1], style, marker=".", label=name)
    s = path(opt, saddle, [1.5, 1e-3], steps=40)
    axes[1].plot(s[:, 0], s[:, 1], style, marker=".", label=name)
axes[0].set(title="ill-conditioned quadratic", xlabel="x", ylabel="y")
axes[1].set(title="saddle point", xlabel="x", ylabel="y")
axes[0].legend(fontsize="small")
fig.tight_layout()

# %% [markdown]
# Each method is stable on a quadratic only below a rate set by the curvature
# $\lambda$: gradient descent needs $\eta\lambda < 2$, heavy ball
# $\eta\lambda < 2(1+\mu)$, Nesterov $\eta\lambda < 2(1+\mu)/(1+2\mu)$ (1.36 at
# $\mu = 0.9$). Along $y$ ($\lambda = 50$) the rate 0.025 gives 1.25: every path
# converges; at 0.035 (1.75) Nesterov's would diverge while heavy ball's would not.
#
# ## jaxsched equals optax and the EMA form
#
# `js.sgd(lr, momentum, nesterov=...)` equals `optax.sgd(lr, momentum, nesterov=...)`.
# The EMA form with rate $\eta$ moves like heavy ball with rate $\eta (1 - \beta)$;
# because PyTorch's buffer starts at $g_1$ and then grows by $g_t$, the exact
# equivalent is `SGD(lr * (1 - beta), momentum=beta)`.

# %%
for nesterov in (False, True):
    ours = path(js.sgd(LR, momentum=0.9, nesterov=nesterov), ill, [-4.0, 1.0])
    with jax.numpy_dtype_promotion("standard"):
        theirs = path(optax.sgd(LR, momentum=0.9, nesterov=nesterov), ill, [-4.0, 1.0])
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
ema = path(configs["EMA form 0.9"], ill, [-4.0, 1.0])
scaled = path(js.sgd(LR, momentum=0.9), ill, [-4.0, 1.0])
np.testing.assert_allclose(ema, scaled, rtol=1e-4, atol=1e-5)
print("js.sgd = optax.sgd; EMA form = SGD(lr * (1 - beta), momentum=beta)")

# %% [markdown]
# ## A sweep over the momentum with `jax.vmap`

# %%
momenta = jnp.linspace(0.0, 0.98, 15 if FAST else 50)


def final(momentum):  # path() returns NumPy arrays: vmap a pure version
    opt = js.sgd(0.035, momentum=momentum)
    p = jnp.array([-4.0, 1.0])

    def step(carry, _):
        p, state = carry
        updates, state = opt.update(jax.grad(ill)(p), state, p)
        return (optax.apply_updates(p, updates), state), None

    (p, _), _ = jax.lax.scan(step, (p, opt.init(p)), None, length=100)
    return ill(p)


losses = jax.vmap(final)(momenta)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.semilogy(momenta, losses, "k-")
ax.set(xlabel="momentum", ylabel="loss after 100 steps")
print("best momentum:", float(momenta[jnp.argmin(losses)]))

# %% [markdown]
# ## Summary
# - Momentum accumulates consistent gradient directions and damps oscillations.
# - PyTorch's buffer starts at $g_1$; the EMA form at $(1-\beta) g_1$
#   (`zero_init=True`), which equals `SGD(lr (1-β), momentum=β)` exactly.
# - `js.sgd` reproduces PyTorch's two-step example and optax's trajectories.
#
# ## Exercises
# 1. On the quadratic, the best momentum is about
#    $((\sqrt{\kappa}-1)/(\sqrt{\kappa}+1))^2$ with $\kappa = 50$: compare with
#    the sweep.
# 2. Escape the saddle from $(1.5, 0)$ exactly: why does nothing move along $y$?
# 3. Sweep momentum and learning rate together with two nested `vmap`s.
