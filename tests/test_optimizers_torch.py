"""Optimizers reproduce PyTorch's trajectories (float64, x64 on) to 1e-12."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxsched as js
from tests.helpers import optimizer_refs, seed_examples


def _problem():
    p = optimizer_refs()["problem"]
    return jnp.asarray(p["a"]), jnp.asarray(p["b"]), jnp.asarray(p["w0"])


def _optimizer(config):
    """The jaxsched optimizer matching one torch config (torch argument names)."""
    kwargs = dict(config["kwargs"])
    lr = kwargs.pop("lr")
    # torch's maximize=True negates the gradient before anything else (its L2 term
    # included): maximising -f is minimising f, the problem every config runs on.
    kwargs.pop("maximize", None)
    if config["lr_schedule"]:
        spec = config["lr_schedule"]
        assert spec["type"] == "StepLR"
        lr = js.schedules.step_decay(lr, spec["step_size"], spec["gamma"])
    if "betas" in kwargs:
        kwargs["b1"], kwargs["b2"] = kwargs.pop("betas")
    if "alpha" in kwargs:
        kwargs["decay"] = kwargs.pop("alpha")
    name = config["optimizer"].lower()
    if kwargs.pop("decoupled_weight_decay", False):
        name = "adamw"  # torch's Adam(decoupled_weight_decay=True) is AdamW
    return getattr(js, name)(lr, **kwargs)


def _trajectory(optimizer, a, b, w0, steps):
    def step(carry, _):
        w, state = carry
        grad = 2 * a * w + b
        updates, state = optimizer.update(grad, state, w)
        w = optax.apply_updates(w, updates)
        return (w, state), w

    _, path = jax.lax.scan(step, (w0, optimizer.init(w0)), None, length=steps)
    return jnp.concatenate([w0[None], path])


NAMES = [c["name"] for c in optimizer_refs()["torch"]]


def test_every_torch_config_is_covered():
    assert len(NAMES) == 28
    assert sum("maximize" in c["kwargs"] for c in optimizer_refs()["torch"]) == 5
    assert {c["optimizer"] for c in optimizer_refs()["torch"]} == {
        "SGD",
        "Adagrad",
        "RMSprop",
        "Adam",
        "AdamW",
    }


@pytest.mark.parametrize("name", NAMES)
def test_optimizer_matches_torch_float64(name):
    config = next(c for c in optimizer_refs()["torch"] if c["name"] == name)
    expected = np.asarray(config["params"])
    with jax.enable_x64(True):
        a, b, w0 = _problem()
        path = _trajectory(_optimizer(config), a, b, w0, len(expected) - 1)
        assert path.dtype == jnp.float64
    np.testing.assert_allclose(path, expected, rtol=0, atol=1e-12)


SEED_CASES = {
    "sgd_momentum lr=0.01 momentum=0.9": js.sgd(0.01, momentum=0.9),
    "adagrad lr=0.01": js.adagrad(0.01),
    "rmsprop lr=0.01 alpha=0.9": js.rmsprop(0.01, decay=0.9),
    "adam lr=0.01 betas=(0.9,0.99)": js.adam(0.01, b2=0.99),
    "sgd lr=0.1": js.sgd(0.1),
}


@pytest.mark.parametrize("name", sorted(SEED_CASES))
def test_optimizer_matches_torch_two_step_seed_example_float32(name):
    optimizer = SEED_CASES[name]
    w = jnp.ones(1, jnp.float32)  # loss w**2 / 2: the gradient is w
    state = optimizer.init(w)
    for expected in seed_examples()["two_step_float32"][name]:
        assert float(w[0]) == pytest.approx(expected["grad"], rel=1e-7)
        updates, state = optimizer.update(w, state, w)
        w = optax.apply_updates(w, updates)
        assert float(w[0]) == pytest.approx(expected["weight"], rel=1e-7)


def test_ema_momentum_is_zero_init_momentum_with_dampening_beta():
    ref = optimizer_refs()["ema_momentum"]
    beta, lr = ref["beta"], ref["lr"]
    expected = np.asarray(ref["ema_form_params"])
    with jax.enable_x64(True):
        a, b, w0 = _problem()
        ema = optax.chain(
            js.scale_by_momentum(beta, beta, zero_init=True),
            js.scale_by_learning_rate(lr),
        )
        path = _trajectory(ema, a, b, w0, len(expected) - 1)
        np.testing.assert_allclose(path, expected, rtol=0, atol=1e-12)
        # Also torch's recipe: SGD(lr * (1 - beta), momentum=beta).
        scaled = _trajectory(js.sgd(lr * (1 - beta), beta), a, b, w0, len(expected) - 1)
        np.testing.assert_allclose(scaled, expected, rtol=0, atol=1e-12)
        # torch's dampening=beta differs from the EMA by beta**t * g_1 in the buffer.
        g1 = 2 * a * w0 + b
        torch_form = optax.chain(js.scale_by_momentum(beta, beta))
        state = torch_form.init(w0)
        ema_form = js.scale_by_momentum(beta, beta, zero_init=True)
        ema_state = ema_form.init(w0)
        for t in range(1, 6):
            grad = g1 if t == 1 else jnp.full(4, 0.3 * t)
            torch_buf, state = torch_form.update(grad, state)
            ema_buf, ema_state = ema_form.update(grad, ema_state)
            np.testing.assert_allclose(torch_buf - ema_buf, beta**t * g1, atol=1e-14)


def test_momentum_zero_ignores_dampening_as_torch():
    # torch's SGD skips its buffer when momentum == 0 (`if momentum != 0:`), so
    # dampening changes nothing: SGD(lr=0.1, momentum=0, dampening=0.5) on w**2 / 2
    # from w = 1 gives 0.9, 0.81, 0.729. Also with momentum traced through 0.
    def trajectory(momentum):
        optimizer = js.sgd(0.1, momentum=momentum, dampening=0.5)
        w = jnp.ones(1)
        state, path = optimizer.init(w), []
        for _ in range(3):
            updates, state = optimizer.update(w, state, w)
            w = optax.apply_updates(w, updates)
            path.append(w[0])
        return jnp.stack(path)

    np.testing.assert_allclose(trajectory(0.0), [0.9, 0.81, 0.729], rtol=1e-6)
    swept = jax.vmap(trajectory)(jnp.asarray([0.0, 0.5]))
    np.testing.assert_allclose(swept[0], [0.9, 0.81, 0.729], rtol=1e-6)
    np.testing.assert_allclose(swept[1], trajectory(0.5), rtol=1e-6)


# Momentum that reaches 0 and comes back (a momentum schedule, or set_hparams):
# torch skips its buffer while momentum == 0, leaving it as it was, and SGD starts
# it (undamped, buf = g) at the first step whose momentum is not 0. Transcribed
# from torch 2.13's _single_tensor_sgd / _single_tensor_rmsprop.
MOMENTA = [0.0, 0.0, 0.9, 0.5, 0.0, 0.0, 0.8, 0.9]


def _quadratic_grad(w):
    return np.array([2.0, 0.5, 3.0]) * w + np.array([1.0, -1.0, 0.0])


def _torch_sgd(w, lr, momenta, dampening, nesterov):
    buf, path = None, []
    for momentum in momenta:
        g = _quadratic_grad(w)
        if momentum != 0:
            if buf is None:
                buf = g.copy()
            else:
                buf = momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        w = w - lr * g
        path.append(w)
    return np.stack(path)


def _torch_rmsprop(w, lr, momenta, alpha, eps, centered):
    square_avg, grad_avg, buf, path = 0 * w, 0 * w, 0 * w, []
    for momentum in momenta:
        g = _quadratic_grad(w)
        square_avg = alpha * square_avg + (1 - alpha) * g * g
        avg = square_avg
        if centered:
            grad_avg = alpha * grad_avg + (1 - alpha) * g
            avg = square_avg - grad_avg * grad_avg
        avg = np.sqrt(avg) + eps
        if momentum > 0:
            buf = momentum * buf + g / avg
            w = w - lr * buf
        else:
            w = w - lr * g / avg
        path.append(w)
    return np.stack(path)


def _stepwise(values):
    """The schedule whose value at step k is values[k]."""
    pieces = [js.schedules.constant(v) for v in values]
    return js.schedules.join(pieces, np.arange(1, len(values)))


def _run_with_momenta(optimizer, w0, steps):
    def step(carry, _):
        w, state = carry
        updates, state = optimizer.update(jnp.asarray(_quadratic_grad(w)), state, w)
        w = optax.apply_updates(w, updates)
        return (w, state), w

    return jax.lax.scan(step, (w0, optimizer.init(w0)), None, length=steps)[1]


@pytest.mark.parametrize(
    "dampening, nesterov", [(0.0, False), (0.3, False), (0.0, True)]
)
def test_sgd_momentum_through_zero_keeps_torchs_buffer(dampening, nesterov):
    with jax.enable_x64(True):
        w0 = jnp.asarray([1.0, -2.0, 0.5])
        momentum = _stepwise(MOMENTA)
        optimizer = js.sgd(0.1, momentum, dampening, nesterov=nesterov)
        path = _run_with_momenta(optimizer, w0, len(MOMENTA))
    expected = _torch_sgd(np.asarray(w0), 0.1, MOMENTA, dampening, nesterov)
    np.testing.assert_allclose(path, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("centered", [False, True])
def test_rmsprop_momentum_through_zero_keeps_torchs_buffer(centered):
    momenta = [0.9, 0.0, 0.0, 0.5, 0.0, 0.8, 0.9, 0.0]  # torch needs > 0 at first
    with jax.enable_x64(True):
        w0 = jnp.asarray([1.0, -2.0, 0.5])
        momentum = _stepwise(momenta)
        optimizer = js.rmsprop(0.01, decay=0.9, momentum=momentum, centered=centered)
        path = _run_with_momenta(optimizer, w0, len(momenta))
    expected = _torch_rmsprop(np.asarray(w0), 0.01, momenta, 0.9, 1e-8, centered)
    np.testing.assert_allclose(path, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "momenta",
    [
        [0.0, 0.0, 0.9, 0.9, 0.9],  # torch starts its buffer at b = g, undamped
        [0.9, 0.9, 0.0, 0.0],  # at 0, torch steps along g, undamped
    ],
)
def test_sgd_momentum_number_set_to_and_from_zero_as_torch(momenta):
    # a number changed by set_hparams (only value -> 0 -> value differs: the
    # buffer then holds g, where torch resumes from its old one; documented)
    with jax.enable_x64(True):
        w = jnp.asarray([1.0, -2.0, 0.5])
        optimizer = js.sgd(0.1, momentum=0.0, dampening=0.3)
        state, path = optimizer.init(w), []
        for momentum in momenta:
            state = js.set_hparams(state, momentum=momentum)
            grads = jnp.asarray(_quadratic_grad(np.asarray(w)))
            updates, state = optimizer.update(grads, state, w)
            w = optax.apply_updates(w, updates)
            path.append(w)
    expected = _torch_sgd(np.asarray([1.0, -2.0, 0.5]), 0.1, momenta, 0.3, False)
    np.testing.assert_allclose(np.stack(path), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("factory", [js.sgd, js.adagrad, js.rmsprop, js.adam])
def test_zero_weight_decay_skips_the_parameters_as_torch(factory):
    # torch: `if weight_decay != 0: grad = grad.add(param, alpha=weight_decay)`.
    # 0 * inf is NaN: an infinite parameter must not poison its own update.
    params = jnp.array([jnp.inf, 1.0])
    grads = jnp.array([0.5, -0.25])

    def updates(weight_decay):
        optimizer = factory(0.1, weight_decay=weight_decay)
        return optimizer.update(grads, optimizer.init(params), params)[0]

    chex.assert_tree_all_finite(updates(0.0))
    chex.assert_trees_all_equal(updates(0.0), updates(None))
