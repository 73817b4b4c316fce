"""jaxsched optimizers inside ``optax.inject_hyperparams``: the wrapper's
hyperparameters drive them, as they drive optax's own optimizers."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxsched as js
from tests.optimizer_cases import quadratic_loss, quadratic_params

FACTORIES = [js.sgd, js.adagrad, js.rmsprop, js.adam, js.adamw]


def _wrapped(factory, **hparams):
    return optax.inject_hyperparams(factory, hyperparam_dtype=jnp.float32)(**hparams)


def _run(optimizer, params, state, steps):
    """``steps`` jitted updates on the quadratic; returns params and state."""

    @jax.jit
    def step(params, state):
        grads = jax.grad(quadratic_loss)(params)
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    with jax.numpy_dtype_promotion("standard"):  # optax's wrapper mixes dtypes
        for _ in range(steps):
            params, state = step(params, state)
    return params, state


def _differ(a, b):
    flat = [np.concatenate([np.ravel(x) for x in jax.tree.leaves(t)]) for t in (a, b)]
    return not np.allclose(*flat, rtol=1e-3)


def _init(optimizer, params):
    with jax.numpy_dtype_promotion("standard"):
        return optimizer.init(params)


@pytest.mark.parametrize("factory", FACTORIES)
def test_a_schedule_given_to_the_wrapper_is_followed(factory):
    schedule = js.schedules.step_decay(0.05, step_size=3, gamma=0.2)
    wrapped = _wrapped(factory, learning_rate=schedule)
    alone = factory(schedule)
    p0 = quadratic_params()
    trained, _ = _run(wrapped, p0, _init(wrapped, p0), 10)
    expected, _ = _run(alone, p0, _init(alone, p0), 10)
    at_first_value, _ = _run(factory(0.05), p0, _init(factory(0.05), p0), 10)
    chex.assert_trees_all_close(trained, expected, rtol=1e-6)
    assert _differ(expected, at_first_value)


@pytest.mark.parametrize("factory", FACTORIES)
def test_changing_the_wrappers_hyperparams_changes_the_updates(factory):
    # optax's idiom for a learning rate changed by hand between steps.
    wrapped, alone = _wrapped(factory, learning_rate=0.02), factory(0.02)
    p0 = quadratic_params()
    params, state = _run(wrapped, p0, _init(wrapped, p0), 3)
    state.hyperparams["learning_rate"] = jnp.float32(0.005)
    params, state = _run(wrapped, params, state, 3)

    ref, ref_state = _run(alone, p0, _init(alone, p0), 3)
    ref_state = js.set_hparams(ref_state, learning_rate=0.005)
    ref, _ = _run(alone, ref, ref_state, 3)
    unchanged, _ = _run(alone, p0, _init(alone, p0), 6)
    chex.assert_trees_all_close(params, ref, rtol=1e-6)
    assert _differ(ref, unchanged)
    assert float(js.get_hparams(state)["learning_rate"]) == pytest.approx(0.005)


def test_set_hparams_on_a_wrapped_state_sets_the_wrappers_values():
    wrapped, alone = (
        _wrapped(js.sgd, learning_rate=0.02, momentum=0.9),
        js.sgd(0.02, 0.9),
    )
    p0 = quadratic_params()
    state = js.set_hparams(_init(wrapped, p0), learning_rate=0.01, momentum=0.5)
    assert float(state.hyperparams["learning_rate"]) == pytest.approx(0.01)
    assert float(state.hyperparams["momentum"]) == pytest.approx(0.5)
    assert state.hyperparams["momentum"].dtype == jnp.float32
    assert float(js.get_hparams(state)["momentum"]) == pytest.approx(0.5)
    trained, _ = _run(wrapped, p0, state, 5)
    expected, _ = _run(
        alone, p0, js.set_hparams(_init(alone, p0), learning_rate=0.01, momentum=0.5), 5
    )
    chex.assert_trees_all_close(trained, expected, rtol=1e-6)


def test_get_hparams_reads_the_wrappers_values_before_any_update():
    state = _init(_wrapped(js.adam, learning_rate=0.02), quadratic_params())
    state.hyperparams["b1"] = jnp.float32(0.5)
    assert float(js.get_hparams(state)["b1"]) == 0.5


def test_set_hparams_refuses_a_schedule_for_a_wrapped_state():
    state = _init(_wrapped(js.sgd, learning_rate=0.02), quadratic_params())
    with pytest.raises(ValueError, match="inject_hyperparams.*learning_rate"):
        js.set_hparams(state, learning_rate=js.schedules.constant(0.1))


def test_set_hparams_refuses_a_value_the_wrapper_schedules():
    schedule = js.schedules.constant(0.02)
    state = _init(_wrapped(js.sgd, learning_rate=schedule), quadratic_params())
    with pytest.raises(ValueError, match="schedules `learning_rate`"):
        js.set_hparams(state, learning_rate=0.1)


def test_an_optimizer_built_from_numbers_reads_a_state_it_did_not_make():
    # A state saved with a changed learning rate, continued in a new process by a
    # new optimizer that never ran `init`: the state's value is used.
    p0 = quadratic_params()
    state = js.set_hparams(js.sgd(0.1).init(p0), learning_rate=0.01)
    grads = jax.grad(quadratic_loss)(p0)
    updates, state = js.sgd(0.1).update(grads, state, p0)
    chex.assert_trees_all_close(
        updates, jax.tree.map(lambda g: -0.01 * g, grads), rtol=1e-6
    )
    assert float(js.get_hparams(state)["learning_rate"]) == pytest.approx(0.01)


def test_eager_updates_inside_the_wrapper_follow_its_hyperparams():
    wrapped = _wrapped(js.sgd, learning_rate=0.1)
    p0 = quadratic_params()
    grads = jax.grad(quadratic_loss)(p0)
    with jax.numpy_dtype_promotion("standard"):
        state = wrapped.init(p0)
        state.hyperparams["learning_rate"] = jnp.float32(0.03)
        updates, _ = wrapped.update(grads, state, p0)
    chex.assert_trees_all_close(
        updates, jax.tree.map(lambda g: -0.03 * g, grads), rtol=1e-6
    )
