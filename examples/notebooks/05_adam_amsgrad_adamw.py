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
# # 5. Adam, AMSGrad and AdamW
#
# **Intuition.** Adam combines momentum (an average $m_t$ of gradients) with
# RMSprop (an average $v_t$ of squared gradients), both starting at zero and
# therefore bias-corrected:
#
# $$\hat m_t = \frac{m_t}{1 - \beta_1^t}, \quad \hat v_t = \frac{v_t}{1 - \beta_2^t},
#   \quad x_t = x_{t-1} - \eta \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}.$$
#
# AMSGrad keeps the running maximum of $v_t$ so the step never grows back.
# *L2 regularisation* adds $\lambda x$ to the gradient, which Adam then rescales;
# AdamW's *decoupled* weight decay shrinks the weights directly,
# $x \leftarrow x - \eta \lambda x$, independent of the gradient statistics.

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
# ## The two-step example: $w = 1$, loss $w^2/2$, Adam lr 0.01, betas (0.9, 0.99)
#
# PyTorch's float32 numbers, written here:

# %%
TORCH = [(1.0, 0.9900000095367432), (0.9900000095367432, 0.9800025224685669)]


def scratch_adam(w, steps=2, lr=0.01, b1=0.9, b2=0.99, eps=1e-8):
    m = v = 0.0
    out = []
    for t in range(1, steps + 1):
        g = w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        w = w - lr * m_hat / (jnp.sqrt(v_hat) + eps)
        out.append((g, w))
    return out


def with_optimizer(optimizer, w, steps=2):
    state, out = optimizer.init(w), []
    for _ in range(steps):
        updates, state = optimizer.update(w, state, w)
        out.append((w, optax.apply_updates(w, updates)))
        w = out[-1][1]
    return out


w0 = jnp.float32(1.0)
for run in (scratch_adam(w0), with_optimizer(js.adam(0.01, b2=0.99), w0)):
    for (g, w), (eg, ew) in zip(run, TORCH, strict=True):
        np.testing.assert_allclose([g, w], [eg, ew], rtol=1e-6)
print("step 1: w = 1 - lr whatever the size of the gradient:", float(run[0][1]))

# %% [markdown]
# ## Bias correction on a toy problem
#
# Without correction step $t$ is $(1-\beta_1^t)/\sqrt{1-\beta_2^t}$ times the
# corrected one: at the defaults ($\beta_1 = 0.9$, $\beta_2 = 0.999$) step 1 is 3.2
# times too large, step 12 6.6 times, and the factor stays above 2 until step 288
# (above 1.1 until step 1,751); with the correction, step 1 is exactly
# $\eta\,\mathrm{sign}(g)$.


# %%
def loss(p):
    return jnp.sum((p - jnp.array([3.0, -1.0])) ** 2 * jnp.array([1.0, 20.0]))


def losses_of(optimizer, steps=200):
    p = jnp.zeros(2)

    def step(carry, _):
        p, state = carry
        updates, state = optimizer.update(jax.grad(loss)(p), state, p)
        return (optax.apply_updates(p, updates), state), loss(p)

    return jax.lax.scan(step, (p, optimizer.init(p)), None, length=steps)[1]


fig, ax = plt.subplots(figsize=(6, 3.5))
with jax.numpy_dtype_promotion("standard"):
    ax.semilogy(losses_of(js.adam(0.05)), "-", label="Adam (jaxsched)")
    ax.semilogy(losses_of(js.adam(0.05, amsgrad=True)), "--", label="AMSGrad")
    ax.semilogy(losses_of(js.sgd(0.02)), ":", label="SGD")
ax.set(xlabel="step", ylabel="loss")
ax.legend()

# %% [markdown]
# ## jaxsched = optax (Adam, AdamW), and where AMSGrad differs
#
# jaxsched's AMSGrad is PyTorch's: the maximum of the *raw* second moment,
# bias-corrected after; `optax.scale_by_amsgrad` takes the maximum of the corrected
# moment, which differs early on.

# %%
# (Tolerance: optax's float32 bias correction 1 - b2**t rounds less accurately.)
with jax.numpy_dtype_promotion("standard"):
    np.testing.assert_allclose(
        losses_of(js.adam(0.05)), losses_of(optax.adam(0.05)), rtol=1e-3, atol=1e-5
    )
    np.testing.assert_allclose(
        losses_of(js.adamw(0.05, weight_decay=0.1)),
        losses_of(optax.adamw(0.05, weight_decay=0.1)),
        rtol=1e-3,
        atol=1e-5,
    )
    ams_js = losses_of(js.adam(0.05, b2=0.99, amsgrad=True))
    ams_optax = losses_of(
        optax.chain(optax.scale_by_amsgrad(b2=0.99), optax.scale(-0.05))
    )
print(
    "max |AMSGrad jaxsched - optax| over the run:",
    float(jnp.max(jnp.abs(ams_js - ams_optax))),
)

# %% [markdown]
# ## L2 versus decoupled weight decay
#
# With L2 the decay goes through Adam's normalisation: coordinates with large
# gradients are barely decayed. AdamW decays every weight by the same factor.


# %%
def weights_after(optimizer, steps=300):
    p = jnp.array([3.0, 3.0])

    def noisy_loss(p):  # a steep coordinate and a flat one
        return 50 * p[0] ** 2 + 0.01 * p[1] ** 2

    def step(carry, _):
        p, state = carry
        updates, state = optimizer.update(jax.grad(noisy_loss)(p), state, p)
        return (optax.apply_updates(p, updates), state), p

    return jax.lax.scan(step, (p, optimizer.init(p)), None, length=steps)[1]


fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(weights_after(js.adam(0.01, weight_decay=0.1))[:, 1], "-", label="Adam + L2")
ax.plot(weights_after(js.adamw(0.01, weight_decay=0.1))[:, 1], "--", label="AdamW")
ax.plot(weights_after(js.adam(0.01))[:, 1], ":", label="no decay")
ax.set(xlabel="step", ylabel="flat coordinate")
ax.legend()

# %% [markdown]
# ## A sweep over $\beta_2$ with `jax.vmap`

# %%
b2s = jnp.linspace(0.9, 0.9999, 10 if FAST else 40)
finals = jax.vmap(lambda b2: losses_of(js.adam(0.05, b2=b2))[-1])(b2s)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.semilogy(b2s, finals, "k-")
ax.set(xlabel="beta2", ylabel="loss after 200 steps")

# %% [markdown]
# ## Summary
# - Adam = momentum + RMSprop + bias correction; step 1 has size $\eta$.
# - AMSGrad (PyTorch's form) never lets the denominator shrink.
# - L2 weight decay is rescaled by Adam; AdamW's decoupled decay is not.
#
# ## Exercises
# 1. Remove bias correction (write Adam by hand) and plot the first 20 steps.
# 2. Sweep `weight_decay` for Adam and AdamW together with two `vmap`s.
# 3. Show that Adam with $\beta_1 = 0$ is RMSprop with bias correction.
