"""Hyperparameters are data: in the state, one compile, vmappable, differentiable."""

import inspect

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxsched as js
from tests.helpers import assert_close_f32
from tests.optimizer_cases import (
    REGISTRY,
    SWEPT,
    build,
    quadratic_loss,
    quadratic_params,
)

S = js.schedules


def _train(optimizer, state, params, steps=6):
    def step(carry, _):
        params, state = carry
        grads = jax.grad(quadratic_loss)(params)
        updates, state = optimizer.update(grads, state, params)
        return (optax.apply_updates(params, updates), state), quadratic_loss(params)

    (params, state), losses = jax.lax.scan(step, (params, state), None, length=steps)
    return params, losses


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_get_hparams_keys_are_the_optimizer_argument_names(name):
    factory, kwargs, _ = REGISTRY[name]
    state = build(name).init(quadratic_params())
    hparams = js.get_hparams(state)
    numeric = {
        p
        for p in inspect.signature(factory).parameters
        if p not in ("nesterov", "centered", "amsgrad", "hparam_dtype")
    }
    assert set(hparams) == numeric
    for key, value in kwargs.items():
        if key in numeric:
            assert float(hparams[key]) == pytest.approx(value, rel=1e-6)
    # Stored in JAX's default float type, never the params' dtype.
    assert all(v.dtype == jnp.float32 for v in hparams.values())


@pytest.mark.parametrize("name, arg", SWEPT)
def test_vmap_of_init_and_update_over_hparam_equals_loop(name, arg):
    values = REGISTRY[name][2][arg]
    params = quadratic_params()
    states = jax.vmap(lambda v: build(name, **{arg: v}).init(params))(
        jnp.asarray(values)
    )
    batched_params = jax.tree.map(lambda x: jnp.stack([x] * len(values)), params)
    # Any optimizer of the same structure updates the batch: values live in the state.
    optimizer = build(name)
    batched, _ = jax.vmap(lambda s, p: _train(optimizer, s, p))(states, batched_params)
    for i, value in enumerate(values):
        solo_optimizer = build(name, **{arg: value})
        solo, _ = _train(solo_optimizer, solo_optimizer.init(params), params)
        assert_close_f32(jax.tree.map(lambda x, i=i: x[i], batched), solo)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_one_jitted_step_compiles_once_for_five_hparam_settings(name):
    sweeps = REGISTRY[name][2]
    chex.clear_trace_counter()

    @jax.jit
    @chex.assert_max_traces(n=1)
    def step(params, state):
        grads = jax.grad(quadratic_loss)(params)
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    optimizer = build(name)
    params = quadratic_params()
    for i in range(5):
        overrides = {
            arg: values[i % 3] * (1 - 0.01 * i) for arg, values in sweeps.items()
        }
        state = build(name, **overrides).init(params)
        for _ in range(2):
            new_params, state = step(params, state)
        chex.assert_tree_all_finite(new_params)


@pytest.mark.parametrize("factory", [js.sgd, js.adagrad, js.rmsprop, js.adam, js.adamw])
def test_hypergradient_of_unrolled_training_matches_finite_difference(factory):
    # quadratic_params has a coordinate at the optimum (gradient always 0): the
    # square roots of the adaptive methods must not turn that into NaN.
    with jax.enable_x64(True):
        params = jax.tree.map(lambda x: x.astype(jnp.float64), quadratic_params())

        def loss_after_training(lr):
            optimizer = factory(lr)
            _, losses = _train(optimizer, optimizer.init(params), params, steps=8)
            return losses[-1]

        lr = 0.02
        grad = jax.grad(loss_after_training)(lr)
        h = 1e-6
        fd = (loss_after_training(lr + h) - loss_after_training(lr - h)) / (2 * h)
        assert np.isfinite(grad) and abs(grad) > 1e-6
        np.testing.assert_allclose(grad, fd, rtol=1e-5)


@pytest.mark.parametrize("factory", [js.sgd, js.adagrad, js.rmsprop, js.adam, js.adamw])
def test_hypergradient_by_weight_decay_at_zero_matches_finite_difference(factory):
    # At weight_decay=0 the term skips the parameters (torch's `if weight_decay !=
    # 0`); its derivative is still that of g + lambda p. Jitted: -h is traced, not
    # range-checked.
    with jax.enable_x64(True):
        params = jax.tree.map(lambda x: x.astype(jnp.float64), quadratic_params())

        @jax.jit
        def loss_after_training(weight_decay):
            optimizer = factory(0.02, weight_decay=weight_decay)
            _, losses = _train(optimizer, optimizer.init(params), params, steps=8)
            return losses[-1]

        grad = jax.grad(loss_after_training)(0.0)
        h = 1e-6
        fd = (loss_after_training(h) - loss_after_training(-h)) / (2 * h)
        assert np.isfinite(grad) and abs(grad) > 1e-6
        np.testing.assert_allclose(grad, fd, rtol=1e-5)


@pytest.mark.parametrize("factory", [js.sgd, js.adagrad, js.rmsprop, js.adam, js.adamw])
def test_hypergradient_with_an_infinite_parameter_and_no_decay_is_finite(factory):
    # Two steps: the second's parameters depend on the learning rate, the weight
    # decay of 0 does not. Its zero tangent must not meet the infinite parameter
    # (0 * inf is NaN) in the forward-mode derivative of the L2 term.
    params = jnp.array([jnp.inf, 1.0])
    grads = jnp.array([0.5, -0.25])

    def second_update(learning_rate):
        optimizer = factory(learning_rate, weight_decay=0.0)
        state = optimizer.init(params)
        updates, state = optimizer.update(grads, state, params)
        moved = optax.apply_updates(params, updates)
        return optimizer.update(grads, state, moved)[0]

    chex.assert_tree_all_finite(second_update(0.1))
    for derivative in (jax.jacfwd(second_update), jax.jacrev(second_update)):
        chex.assert_tree_all_finite(derivative(0.1))


def test_set_hparams_number_schedule_and_back():
    params = quadratic_params()
    optimizer = js.sgd(0.1, momentum=0.9)
    state = optimizer.init(params)
    grads = jax.tree.map(jnp.ones_like, params)

    # A number replaced by a number: same structure, takes effect at once.
    state = js.set_hparams(state, learning_rate=0.5, momentum=0.0)
    updates, state = optimizer.update(grads, state, params)
    np.testing.assert_allclose(updates["b"], -0.5)

    # ...by a schedule: evaluated at the number of updates done (here 1).
    state = js.set_hparams(
        state, learning_rate=S.step_decay(1.0, step_size=1, gamma=0.1)
    )
    assert isinstance(js.get_hparams(state)["learning_rate"], js.Schedule)
    updates, state = optimizer.update(grads, state, params)
    np.testing.assert_allclose(updates["b"], -0.1, rtol=1e-6)

    # ...by any step -> value callable, then back to a number.
    state = js.set_hparams(state, learning_rate=lambda k: 0.01 * k)
    updates, state = optimizer.update(grads, state, params)
    np.testing.assert_allclose(updates["b"], -0.02, rtol=1e-6)
    state = js.set_hparams(state, learning_rate=0.25)
    updates, _ = optimizer.update(grads, state, params)
    np.testing.assert_allclose(updates["b"], -0.25)


def test_set_hparams_validates_and_names_unknown_arguments():
    state = js.adam(1e-3).init(quadratic_params())
    with pytest.raises(ValueError, match="no hyperparameter \\['momentum'\\]"):
        js.set_hparams(state, momentum=0.9)
    with pytest.raises(ValueError, match="`b2=1` is out of range"):
        js.set_hparams(state, b2=1.0)
    with pytest.raises(ValueError, match="`learning_rate=-0.1`"):
        js.set_hparams(state, learning_rate=-0.1)


def test_get_and_set_hparams_reach_inside_optax_wrappers():
    params = quadratic_params()
    wrapped = optax.MultiSteps(
        optax.chain(optax.clip_by_global_norm(1.0), js.adamw(1e-3)), every_k_schedule=2
    )
    state = wrapped.init(params)
    assert float(js.get_hparams(state)["weight_decay"]) == pytest.approx(1e-2)
    state = js.set_hparams(state, weight_decay=0.5)
    assert float(js.get_hparams(state)["weight_decay"]) == 0.5


def test_set_hparams_with_one_value_per_vmapped_config():
    params = quadratic_params()
    states = jax.vmap(lambda lr: js.adam(lr).init(params))(jnp.array([0.1, 0.2, 0.3]))
    states = js.set_hparams(states, b1=jnp.array([0.5, 0.6, 0.7]))
    np.testing.assert_allclose(js.get_hparams(states)["b1"], [0.5, 0.6, 0.7])


def test_an_optimizer_built_from_other_arrays_updates_each_state_with_its_own():
    # Update reads the state, never the closure: a batch of states made elsewhere
    # is a batch of configurations, whatever the updating optimizer was built with.
    params, grads = jnp.zeros(2), jnp.ones(2)
    lrs = jnp.array([1e-3, 1e-2, 1e-1])
    states = jax.vmap(lambda lr: js.sgd(lr).init(params))(lrs)
    other = js.sgd(jnp.asarray(0.5))  # never initialised
    updates, _ = jax.vmap(other.update, in_axes=(None, 0, None))(grads, states, params)
    np.testing.assert_allclose(updates[:, 0], -lrs, rtol=1e-6)


def test_hparams_set_as_python_numbers_by_optax_tree_set_work():
    # optax's way to change a value in a state puts a Python float in it.
    params, grads = jnp.ones(3), jnp.full(3, 2.0)
    optimizer = optax.chain(optax.identity(), js.sgd(0.1))
    state = optax.tree_utils.tree_set(optimizer.init(params), learning_rate=0.01)
    eager, _ = optimizer.update(grads, state, params)
    jitted, _ = jax.jit(optimizer.update)(grads, state, params)
    np.testing.assert_allclose(eager, -0.02 * np.ones(3), rtol=1e-6)
    np.testing.assert_allclose(jitted, eager, rtol=1e-6)
    state = js.set_hparams(state, learning_rate=0.02)
    assert js.get_hparams(state)["learning_rate"].dtype == jnp.float32


def test_hparams_stay_float32_with_bf16_params():
    params = jax.tree.map(lambda x: x.astype(jnp.bfloat16), quadratic_params())
    hparams = js.get_hparams(js.adam(b2=0.999).init(params))
    assert hparams["b2"].dtype == jnp.float32 and float(hparams["b2"]) == pytest.approx(
        0.999
    )


def test_hparam_dtype_overrides_and_x64_default():
    assert (
        js.get_hparams(js.adam(b2=0.99, hparam_dtype=jnp.bfloat16).init(jnp.zeros(2)))[
            "b1"
        ].dtype
        == jnp.bfloat16
    )
    with jax.enable_x64(True):
        assert js.get_hparams(js.adam().init(jnp.zeros(2)))["b1"].dtype == jnp.float64


@pytest.mark.parametrize("b1", [0.0, 0.5])
def test_adam_hypergradient_in_b1_is_finite_down_to_0(b1):
    # d/db1 of the loss after 3 Adam steps, at the edge of [0, 1), against central
    # differences (one-sided at 0).
    def loss_after_steps(b1):
        optimizer = js.adam(0.1, b1=b1, weight_decay=None)
        params = quadratic_params()
        params, _ = _train(optimizer, optimizer.init(params), params, 3)
        return quadratic_loss(params)

    with jax.enable_x64(True):
        grad = jax.grad(loss_after_steps)(jnp.float64(b1))
        h = 1e-6
        if b1 == 0.0:
            fd = (loss_after_steps(h) - loss_after_steps(0.0)) / h
        else:
            fd = (loss_after_steps(b1 + h) - loss_after_steps(b1 - h)) / (2 * h)
    assert np.isfinite(grad)
    np.testing.assert_allclose(grad, fd, rtol=1e-4, atol=1e-8)


@pytest.mark.parametrize(
    "factory, kwargs, arg",
    [
        (js.adam, dict(hparam_dtype=jnp.bfloat16), "b2"),  # 0.999 -> 1.0
        (js.adam, dict(eps=1e-8, hparam_dtype=jnp.float16), "eps"),  # -> 0
    ],
)
def test_hparams_that_round_out_of_range_in_hparam_dtype_are_refused(
    factory, kwargs, arg
):
    with pytest.raises(ValueError, match=f"`{arg}"):
        factory(1e-3, **kwargs)


def test_set_hparams_schedule_is_copied_so_states_can_be_donated():
    schedule = S.cosine_decay(0.1, decay_steps=10)
    optimizer = js.sgd(0.1, momentum=0.9)
    params = jnp.ones(3)
    state = js.set_hparams(optimizer.init(params), learning_rate=schedule)
    other = js.set_hparams(optimizer.init(params), learning_rate=schedule)

    @jax.jit
    def step(params, state):
        updates, state = optimizer.update(params, state, params)
        return optax.apply_updates(params, updates), state

    jax.jit(step, donate_argnums=(0, 1))(jnp.ones(3), state)
    assert float(schedule(1)) > 0  # still alive
    step(params, other)


def test_get_hparams_of_a_state_without_jaxsched_transformations_is_an_error():
    with pytest.raises(ValueError, match="holds no jaxsched hyperparameters"):
        js.get_hparams(optax.adam(1e-3).init(jnp.zeros(2)))


def test_set_hparams_number_on_a_batch_of_states_sets_every_configuration():
    # a batch of states (vmapped init) keeps its batch axis: the number is given
    # to every configuration, and the next vmapped update runs
    params, grads = jnp.ones(3), jnp.full(3, 0.5)
    states = jax.vmap(lambda lr: js.adam(lr).init(params))(jnp.array([0.1, 0.2, 0.3]))
    states = js.set_hparams(
        states, learning_rate=0.05, b1=S.constant(0.8), b2=jnp.array([0.9, 0.99, 0.999])
    )
    updates, _ = jax.vmap(js.adam().update, in_axes=(None, 0, None))(
        grads, states, params
    )
    one = js.adam(0.05, b1=0.8, b2=0.99).init(params)
    expected, _ = js.adam().update(grads, one, params)
    np.testing.assert_allclose(updates[1], expected, rtol=1e-6)
    assert js.get_hparams(states)["learning_rate"].shape == (3,)


def test_set_hparams_schedule_on_a_batch_of_states_keeps_its_milestones_whole():
    # two milestones for two configurations: each configuration gets both
    params, grads = jnp.ones(3), jnp.ones(3)
    states = jax.vmap(lambda lr: js.sgd(lr).init(params))(jnp.array([1.0, 1.0]))
    states = js.set_hparams(
        states, learning_rate=S.multistep_decay(1.0, [2, 4], gamma=0.1)
    )
    update = jax.vmap(js.sgd(0.1).update, in_axes=(None, 0, None))
    rates = []
    for _ in range(6):
        updates, states = update(grads, states, params)
        rates.append(-updates[:, 0])
    np.testing.assert_allclose(
        np.stack(rates), [[1.0] * 2] * 2 + [[0.1] * 2] * 2 + [[0.01] * 2] * 2, rtol=1e-6
    )


@pytest.mark.parametrize(
    "make",
    [
        # end_value left at its default: one number for every configuration
        lambda lr: S.warmup_cosine_decay(0 * lr, lr, 1 + 0 * lr, 10 + 0 * lr),
        lambda lr: S.step_decay(lr, 5, gamma=0.5),
        # three milestones for every configuration, a rate for each
        lambda lr: S.multistep_decay(lr, [1, 2, 3], gamma=0.5),
    ],
)
def test_set_hparams_schedule_partly_per_configuration_on_a_batch_of_states(make):
    rates = [0.1, 0.2, 0.3]
    # A params leaf of the batch's size: a wrongly broadcast rate would not fail.
    params, grads = jnp.ones(3), jnp.ones(3)
    states = jax.vmap(lambda lr: js.sgd(lr).init(params))(jnp.zeros(3))
    states = js.set_hparams(states, learning_rate=make(jnp.array(rates)))
    update = jax.vmap(js.sgd(0.1).update, in_axes=(None, 0, None))
    for step in range(4):
        updates, states = update(grads, states, params)
        for i, rate in enumerate(rates):
            expected = make(rate)(step)
            np.testing.assert_allclose(-updates[i], expected, rtol=1e-6)
