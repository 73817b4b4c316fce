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
# # 6. A gallery of learning-rate schedules
#
# **Intuition.** A large learning rate explores and makes fast progress; a small one
# settles into a minimum. Schedules move from one to the other: in steps (step
# decay), smoothly (exponential, cosine, 1/t, polynomial), after a warmup that
# protects the first fragile updates, or in cycles that restart the exploration.
# Every schedule here is a jaxsched `Schedule`: a pytree whose hyperparameters are
# data, evaluated at the step.

# %%
import os

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax

import jaxsched as js

S = js.schedules
FAST = os.environ.get("JAXSCHED_FAST") == "1"

# %% [markdown]
# ## The classic demo: 200 epochs of SGD (momentum 0.9) on $(wx - y)^2/2$
#
# $w_0 = 1$, $x = 1$, $y = 0$, learning rate 0.1, 10 iterations per epoch, with
# PyTorch's StepLR(50, 0.5), MultiStepLR([50, 125, 160], 0.5) and
# ExponentialLR(0.95) stepped once per epoch.

# %%
epoch_schedules = {
    "StepLR(50, 0.5)": S.step_decay(0.1, step_size=50, gamma=0.5),
    "MultiStepLR([50, 125, 160], 0.5)": S.multistep_decay(0.1, [50, 125, 160], 0.5),
    "ExponentialLR(0.95)": S.exponential_decay(0.1, gamma=0.95),
}
epochs = jnp.arange(200)
# PyTorch's learning rate at the start of a few epochs (float64 values):
TORCH = {
    "StepLR(50, 0.5)": {0: 0.1, 49: 0.1, 50: 0.05, 100: 0.025, 199: 0.0125},
    "MultiStepLR([50, 125, 160], 0.5)": {49: 0.1, 50: 0.05, 125: 0.025, 160: 0.0125},
    "ExponentialLR(0.95)": {1: 0.095, 10: 0.05987369392383789, 100: 0.000592052922},
}
for name, schedule in epoch_schedules.items():
    for epoch, lr in TORCH[name].items():
        np.testing.assert_allclose(schedule(epoch), lr, rtol=1e-5)


def train(epoch_schedule, iterations_per_epoch=10):
    """SGD with the learning rate of the current epoch."""
    optimizer = js.sgd(lambda step: epoch_schedule(step // iterations_per_epoch), 0.9)
    w = jnp.float32(1.0)

    def step(carry, _):
        w, state = carry
        grad = w  # d/dw (w * 1 - 0)^2 / 2
        updates, state = optimizer.update(grad, state, w)
        return (optax.apply_updates(w, updates), state), 0.5 * w**2

    _, losses = jax.lax.scan(
        step, (w, optimizer.init(w)), None, length=200 * iterations_per_epoch
    )
    return losses[::iterations_per_epoch]


fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
js.plot.schedule(
    list(epoch_schedules.values()), 200, left, labels=list(epoch_schedules)
)
left.set_xlabel("epoch")
for (name, schedule), style in zip(
    epoch_schedules.items(), ["-", "--", ":"], strict=True
):
    right.semilogy(train(schedule) + 1e-30, style, label=name)
right.set(xlabel="epoch", ylabel="loss")
right.legend(fontsize="small")
fig.tight_layout()

# %% [markdown]
# ## Smooth decays, warmups and restarts
#
# From scratch, cosine annealing is one line; jaxsched's `cosine_decay` and optax's
# `cosine_decay_schedule` give the same values.

# %%
steps = jnp.arange(300)
by_hand = (
    0.001 + (0.1 - 0.001) * (1 + jnp.cos(jnp.pi * jnp.minimum(steps, 300) / 300)) / 2
)
np.testing.assert_allclose(S.cosine_decay(0.1, 300, 0.001)(steps), by_hand, rtol=1e-5)
with jax.numpy_dtype_promotion("standard"):
    np.testing.assert_allclose(
        S.cosine_decay(0.1, 300, 0.001)(steps),
        optax.cosine_decay_schedule(0.1, 300, alpha=0.01)(steps),
        rtol=1e-5,
    )

gallery = {
    "cosine annealing": S.cosine_decay(0.1, 300, 0.001),
    "constant warmup (ResNet)": S.warmup(
        S.cosine_decay(0.1, 270), 30, 0.01, "constant"
    ),
    "gradual warmup (Goyal)": S.warmup(S.step_decay(0.1, 100, 0.3), 30),
    "warmup + cosine": S.warmup_cosine_decay(0.0, 0.1, 30, 300),
    "restarts, cycle_mult 1.5, gamma 0.7": S.cosine_warmup_restarts(
        60, 1.5, max_lr=0.1, min_lr=0.001, warmup_steps=10, gamma=0.7
    ),
    "SGDR, t_mult 2": S.sgdr(0.1, t_0=40, t_mult=2),
    "cyclic (triangular2)": S.cyclic(0.001, 0.1, 25, mode="triangular2"),
    "one-cycle": S.one_cycle(0.1, 300),
    "1/t": S.inverse_time_decay(0.1, decay_rate=1.0, decay_steps=20),
}
fig, axes = plt.subplots(3, 3, figsize=(13, 9), sharex=True)
for ax, (name, schedule) in zip(axes.flat, gallery.items(), strict=True):
    js.plot.schedule(schedule, 300, ax, labels=[name])
fig.tight_layout()

# %% [markdown]
# ## The same schedule for many hyperparameters: one `jax.vmap`
#
# Warmup length is a traced hyperparameter: the curves of a batch of 16 warmups
# are one call (exercise 2 trains the demo problem the same way).

# %%
warmups = jnp.linspace(0, 150, 8 if FAST else 16)
curves = jax.vmap(lambda w: S.warmup_cosine_decay(0.0, 0.1, w, 300)(steps))(warmups)
fig, ax = plt.subplots(figsize=(6, 3.5))
for curve, w in zip(curves[::2], warmups[::2], strict=True):
    ax.plot(steps, curve, label=f"warmup {int(w)}")
ax.set(xlabel="step", ylabel="learning rate")
ax.legend(fontsize="small")

# %% [markdown]
# ## When to use which
#
# | schedule | use it when |
# |---|---|
# | step / multistep | a fixed budget and a recipe to reproduce (ResNet) |
# | exponential, 1/t | long or open-ended runs; 1/t is SGD's classical rate |
# | cosine annealing | a fixed budget and no recipe: a strong default |
# | warmup | large batches, Adam, transformers: early updates are unreliable |
# | warmup + cosine | the usual choice for deep networks trained from scratch |
# | restarts | snapshot ensembles, escaping poor minima, anytime training |
# | cyclic, one-cycle | fast training at high peak rates (super-convergence) |

# %% [markdown]
# ## Summary
# - Schedules trade exploration (large rates) for convergence (small rates).
# - jaxsched's reproduce PyTorch's and optax's values, and every hyperparameter can
#   be traced, vmapped and differentiated.
#
# ## Exercises
# 1. Make the demo's ExponentialLR reach 0.0125 at epoch 199: which gamma?
# 2. Sweep `pct_start` of `one_cycle` with `vmap` on the demo problem.
# 3. Differentiate the final loss of the demo with respect to `gamma` and to
#    `step_size` of `step_decay` with `jax.grad`: why is the second zero almost
#    everywhere and the first not?
