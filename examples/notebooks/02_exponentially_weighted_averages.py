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
# # 2. Exponentially weighted averages
#
# **Intuition.** Momentum, RMSprop and Adam all keep a running average that
# forgets the past geometrically:
#
# $$v_t = \beta v_{t-1} + (1 - \beta)\, \theta_t, \qquad v_0 = 0.$$
#
# It averages over roughly the last $1 / (1 - \beta)$ values: $\beta = 0.5$ follows
# the data closely, $\beta = 0.9$ is smooth but lags. Starting from $v_0 = 0$ biases
# the first values towards 0; dividing by $1 - \beta^t$ corrects that.

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
# ## Toy problem: 30 days of noisy temperatures (fixed seed)

# %%
days = jnp.arange(1, 31)
temperature = (
    10
    + 8 * jnp.sin(days / 30 * jnp.pi)
    + 2 * jax.random.normal(jax.random.key(0), (30,))
)

# %% [markdown]
# ## From scratch in `jnp`


# %%
def ewa(values, beta, bias_correction=False):
    def step(v, theta_t):
        v = beta * v + (1 - beta) * theta_t
        return v, v

    _, averages = jax.lax.scan(step, jnp.float32(0.0), values)
    if bias_correction:
        averages = averages / (1 - beta ** jnp.arange(1, len(values) + 1))
    return averages


fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(days, temperature, "o", color="0.6", label="temperature")
for beta, style in [(0.5, "-"), (0.9, "--")]:
    ax.plot(days, ewa(temperature, beta), style, label=f"beta={beta}")
ax.plot(days, ewa(temperature, 0.9, True), ":", label="beta=0.9, bias-corrected")
ax.set(xlabel="day", ylabel="temperature")
ax.legend()

# %% [markdown]
# The uncorrected $\beta = 0.9$ curve starts near 0 (day 1: $0.1\,\theta_1$); the
# corrected one starts at $\theta_1$ exactly.

# %%
corrected = ewa(temperature, 0.9, bias_correction=True)
assert abs(float(corrected[0] - temperature[0])) < 1e-5
print("day 1:", float(ewa(temperature, 0.9)[0]), "->", float(corrected[0]))

# %% [markdown]
# ## The same with jaxsched and optax
#
# This average is a momentum buffer that starts at zero:
# `js.scale_by_momentum(β, dampening=β, zero_init=True)` (PyTorch's SGD with
# `dampening=β` starts its buffer at $\theta_1$ instead, a difference of
# $\beta^t \theta_1$). optax calls it `optax.ema(β, debias=False)`; with
# `debias=True` it is the bias-corrected average.


# %%
def transformed(transform, values):
    state = transform.init(values[0])
    out = []
    for theta in values:
        v, state = transform.update(theta, state)
        out.append(v)
    return jnp.stack(out)


for beta in (0.5, 0.9):
    mine = ewa(temperature, beta)
    ours = transformed(js.scale_by_momentum(beta, beta, zero_init=True), temperature)
    np.testing.assert_allclose(ours, mine, rtol=1e-6)
    with jax.numpy_dtype_promotion("standard"):
        np.testing.assert_allclose(
            transformed(optax.ema(beta, debias=False), temperature), mine, rtol=1e-6
        )
        np.testing.assert_allclose(
            transformed(optax.ema(beta, debias=True), temperature),
            ewa(temperature, beta, True),
            rtol=1e-5,
        )
    torch_form = transformed(js.scale_by_momentum(beta, beta), temperature)
    np.testing.assert_allclose(
        torch_form - mine, beta**days * temperature[0], rtol=1e-4, atol=1e-5
    )
print("from scratch = jaxsched = optax; torch's form differs by beta**t * theta_1")

# %% [markdown]
# ## A sweep over $\beta$ with `jax.vmap`
#
# How far does each average lag behind the data? One vmapped call for many $\beta$.

# %%
betas = jnp.linspace(0.0, 0.98, 20 if FAST else 99)
errors = jax.vmap(lambda b: jnp.mean((ewa(temperature, b, True) - temperature) ** 2))(
    betas
)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(betas, errors, "k-")
ax.set(xlabel="beta", ylabel="mean squared gap to the data")
print("window 1 / (1 - beta) at beta=0.9:", 1 / (1 - 0.9))

# %% [markdown]
# ## Summary
# - $v_t$ averages about the last $1/(1-\beta)$ values with geometric weights.
# - Bias correction divides by $1 - \beta^t$ and matters only early on.
# - jaxsched's zero-initialised momentum buffer and `optax.ema` are this average.
#
# ## Exercises
# 1. Show that the weights $(1-\beta)\beta^{t-i}$ sum to $1 - \beta^t$.
# 2. Which $\beta$ minimises the gap to the *next* day's temperature (a forecast)?
# 3. Write the average with `jnp.convolve` and compare.
