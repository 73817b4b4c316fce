"""Every optimizer, every contract: one registry, table-driven."""

import os
import subprocess
import sys

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxsched as js
from tests.optimizer_cases import REGISTRY, build, quadratic_loss, quadratic_params

NAMES = sorted(REGISTRY)
INT32_MAX = 2**31 - 1


def _train(optimizer, params, loss, steps):
    def step(carry, _):
        params, state = carry
        grads = jax.grad(loss)(params)
        updates, state = optimizer.update(grads, state, params)
        return (optax.apply_updates(params, updates), state), loss(params)

    with jax.numpy_dtype_promotion("standard"):  # optax wrappers mix dtypes
        state = optimizer.init(params)
        (params, state), losses = jax.lax.scan(
            step, (params, state), None, length=steps
        )
    return params, state, losses


def _rosenbrock(p):
    return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2


# Learning rates that suit Rosenbrock's curved valley (no weight decay).
ROSENBROCK = {
    "sgd": dict(learning_rate=1e-3, weight_decay=0.0),
    "sgd_nesterov": dict(learning_rate=1e-3),
    "adagrad": dict(learning_rate=0.5, weight_decay=0.0, lr_decay=0.0),
    "rmsprop": dict(learning_rate=1e-3, weight_decay=0.0),
    "rmsprop_centered": dict(learning_rate=1e-3),
    "adam": dict(learning_rate=2e-2, weight_decay=0.0),
    "adam_amsgrad": dict(learning_rate=2e-2),
    "adamw": dict(learning_rate=2e-2, weight_decay=0.0),
}


def _converging(name):
    """The registry's optimizer without weight decay (and Adagrad's rate decay,
    which slows it too much for a short test)."""
    overrides = {"weight_decay": 0.0} if "weight_decay" in REGISTRY[name][1] else {}
    if name == "adagrad":
        overrides |= {"learning_rate": 0.5, "lr_decay": 0.0}
    return build(name, **overrides)


@pytest.mark.parametrize("name", NAMES)
def test_optimizer_converges_on_a_quadratic(name):
    params, _, losses = _train(
        _converging(name), quadratic_params(), quadratic_loss, 500
    )
    assert float(losses[-1]) < 1e-3 * float(losses[0])
    chex.assert_trees_all_close(
        params, jax.tree.map(lambda x: jnp.full_like(x, 0.5), params), atol=0.05
    )


@pytest.mark.parametrize("name", NAMES)
def test_optimizer_converges_on_rosenbrock(name):
    params, _, losses = _train(
        build(name, **ROSENBROCK[name]), jnp.array([-1.2, 1.0]), _rosenbrock, 3000
    )
    assert float(_rosenbrock(params)) < 5e-3 < float(losses[0])
    np.testing.assert_allclose(params, [1.0, 1.0], atol=0.15)


@pytest.mark.parametrize(
    "transform",
    [
        js.scale_by_momentum(0.9),
        js.scale_by_adagrad(),
        js.scale_by_rmsprop(centered=True),
        js.scale_by_adam(amsgrad=True),
        js.scale_by_learning_rate(0.1),
    ],
    ids=lambda t: "",
)
def test_transform_update_takes_params_none_and_extra_args(transform):
    params = quadratic_params()
    updates, _ = transform.update(params, transform.init(params), None, loss=1.0, key=0)
    chex.assert_tree_all_finite(updates)


@pytest.mark.parametrize("name", NAMES)
def test_optimizer_update_takes_extra_args(name):
    optimizer = build(name)
    params = quadratic_params()
    updates, _ = optimizer.update(params, optimizer.init(params), params, value=2.0)
    chex.assert_tree_all_finite(updates)


@pytest.mark.parametrize("factory", [js.sgd, js.adagrad, js.rmsprop, js.adam, js.adamw])
def test_weight_decay_without_params_is_a_clear_error(factory):
    # optax's quickstart calls update(grads, state): the default L2 term of 0
    # still needs the parameters, and the error says how to do without
    optimizer = factory(0.1)
    with pytest.raises(ValueError, match="needs `params`.*`weight_decay=None`"):
        optimizer.update(jnp.ones(2), optimizer.init(jnp.ones(2)))
    if factory is not js.adamw:  # AdamW's decay is its point (optax's needs them too)
        optimizer = factory(0.1, weight_decay=None)
        optimizer.update(jnp.ones(2), optimizer.init(jnp.ones(2)))


COMPLEX_CASES = {
    "sgd nesterov": lambda: js.sgd(0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
    "adagrad": lambda: js.adagrad(0.1, lr_decay=0.01, weight_decay=0.1),
    "rmsprop centered": lambda: js.rmsprop(0.01, momentum=0.5, centered=True),
    "adam amsgrad": lambda: js.adam(0.1, amsgrad=True, weight_decay=0.1),
    "adamw": lambda: js.adamw(0.1),
}


@pytest.mark.parametrize("name", sorted(COMPLEX_CASES))
def test_complex_parameter_steps_as_its_real_and_imaginary_parts(name):
    # torch's rule (view_as_real): a complex parameter is two real ones, so an
    # adaptive optimizer scales each part by its own second moment
    params = {"z": jnp.array([1 + 2j, -0.5j, 3 - 1j], jnp.complex64)}
    pairs = {"z": jnp.stack([params["z"].real, params["z"].imag], axis=-1)}
    optimizer = COMPLEX_CASES[name]()
    state, pair_state = optimizer.init(params), optimizer.init(pairs)
    for scale in (1.0, 2.0, 3.0, 4.0):
        grads = {"z": scale * jnp.sin(params["z"]) + 0.1 * params["z"]}
        pair_grads = {"z": jnp.stack([grads["z"].real, grads["z"].imag], axis=-1)}
        updates, state = optimizer.update(grads, state, params)
        pair_updates, pair_state = optimizer.update(pair_grads, pair_state, pairs)
        params = optax.apply_updates(params, updates)
        pairs = optax.apply_updates(pairs, pair_updates)
        assert params["z"].dtype == jnp.complex64
        np.testing.assert_allclose(
            np.stack([params["z"].real, params["z"].imag], -1), pairs["z"], rtol=1e-6
        )


def test_sgd_momentum_takes_complex_parameters_as_optax():
    params = jnp.array([1 + 2j, -0.5j], jnp.complex64)
    grads = jnp.array([0.5 - 1j, 2 + 0j], jnp.complex64)
    ours, theirs = js.sgd(0.1, momentum=0.9), optax.sgd(0.1, momentum=0.9)
    state, their_state = ours.init(params), theirs.init(params)
    for _ in range(3):
        updates, state = ours.update(grads, state, params)
        expected, their_state = theirs.update(grads, their_state, params)
        chex.assert_trees_all_close(updates, expected, rtol=1e-6)


def test_state_keeps_the_sharding_of_the_parameters(tmp_path):
    # TrainState.create and nnx.Optimizer call init outside jit: a buffer made
    # whole on one device would need a device's memory for the whole model
    code = """
import jax, jax.numpy as jnp
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
import jaxsched as js
mesh = Mesh(jax.devices(), ("x",))
sharding = NamedSharding(mesh, P("x", None))
params = {"w": jax.device_put(jnp.ones((8, 4)), sharding)}
for optimizer in (js.sgd(0.1, momentum=0.9), js.adagrad(0.1), js.rmsprop(0.1),
                  js.adam(0.1, amsgrad=True), js.adamw(0.1)):
    buffers = [x for x in jax.tree.leaves(optimizer.init(params)) if x.shape == (8, 4)]
    assert buffers and all(x.sharding == sharding for x in buffers), buffers
print("ok")
"""
    env = os.environ | {"XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env
    )
    assert result.stdout.strip() == "ok", result.stderr[-2000:]


WRAPPERS = {
    "chain_clip": lambda o: optax.chain(optax.clip_by_global_norm(1.0), o),
    "multi_steps": lambda o: optax.MultiSteps(o, every_k_schedule=2),
    "apply_if_finite": lambda o: optax.apply_if_finite(o, max_consecutive_errors=3),
}


@pytest.mark.parametrize("wrapper", sorted(WRAPPERS))
@pytest.mark.parametrize("name", NAMES)
def test_optimizer_trains_inside_optax_wrappers(name, wrapper):
    _, _, losses = _train(
        WRAPPERS[wrapper](_converging(name)), quadratic_params(), quadratic_loss, 200
    )
    assert float(losses[-1]) < 0.1 * float(losses[0])


@pytest.mark.parametrize("factory", [js.sgd, js.adagrad, js.rmsprop, js.adam, js.adamw])
def test_optimizer_inside_inject_hyperparams_equals_it_alone(factory):
    injected = optax.inject_hyperparams(factory, hyperparam_dtype=jnp.float32)(
        learning_rate=0.02
    )
    alone, _, _ = _train(factory(0.02), quadratic_params(), quadratic_loss, 50)
    wrapped, state, _ = _train(injected, quadratic_params(), quadratic_loss, 50)
    chex.assert_trees_all_close(wrapped, alone, rtol=1e-6)
    # jaxsched's own hyperparameters are found inside the wrapper.
    assert float(js.get_hparams(state)["learning_rate"]) == pytest.approx(0.02)


@pytest.mark.parametrize("name", NAMES)
def test_state_shapes_and_dtypes_are_stable_through_scan(name):
    optimizer = build(name)
    params = quadratic_params()
    initial = optimizer.init(params)
    _, final, _ = _train(optimizer, params, quadratic_loss, 5)
    chex.assert_trees_all_equal_shapes_and_dtypes(initial, final)
    counts = [x for x in jax.tree.leaves(final) if x.dtype == jnp.int32]
    assert counts and all(int(c) == 5 for c in counts)


@pytest.mark.parametrize("name", NAMES)
def test_bf16_params_train_with_float32_state_and_keep_their_dtype(name):
    params = jax.tree.map(lambda x: x.astype(jnp.bfloat16), quadratic_params())
    optimizer = _converging(name)
    if "adam" in name:
        optimizer = build(name, learning_rate=0.05, b2=0.999)
    trained, state, losses = _train(optimizer, params, quadratic_loss, 100)
    assert all(x.dtype == jnp.bfloat16 for x in jax.tree.leaves(trained))
    buffers = [x for x in jax.tree.leaves(state) if x.ndim > 0]
    assert buffers and all(x.dtype == jnp.float32 for x in buffers)
    hparams = js.get_hparams(state)
    assert all(v.dtype == jnp.float32 for v in hparams.values())
    if "b2" in hparams:
        assert float(hparams["b2"]) == pytest.approx(0.999)  # not 1.0, as bf16 would
    chex.assert_tree_all_finite(trained)
    assert float(losses[-1]) < 0.2 * float(losses[0])


def _with_count(state, count):
    return jax.tree.map(
        lambda x: jnp.full_like(x, count) if x.dtype == jnp.int32 else x, state
    )


@pytest.mark.parametrize("name", NAMES)
def test_step_count_saturates_at_int32_max_with_finite_updates(name):
    optimizer = build(name)
    params = quadratic_params()
    state = _with_count(optimizer.init(params), INT32_MAX - 2)
    for _ in range(4):
        updates, state = optimizer.update(
            jax.grad(quadratic_loss)(params), state, params
        )
        chex.assert_tree_all_finite(updates)
        params = optax.apply_updates(params, updates)
    counts = [x for x in jax.tree.leaves(state) if x.dtype == jnp.int32]
    assert all(int(c) == INT32_MAX for c in counts)


@pytest.mark.parametrize("scale", [0.0, 1e30])
@pytest.mark.parametrize("name", NAMES)
def test_zero_and_huge_gradients_give_finite_updates(name, scale):
    optimizer = build(name)
    params = quadratic_params()
    state = optimizer.init(params)
    for _ in range(3):
        grads = jax.tree.map(lambda x: jnp.full_like(x, scale), params)
        updates, state = optimizer.update(grads, state, params)
        chex.assert_tree_all_finite(updates)


@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("factory", [js.adam, js.adamw])
def test_adam_steps_with_a_gradient_whose_corrected_moment_overflows(factory, amsgrad):
    """A float32 gradient of 1e20: v_t = (1 - b2) g^2 = 1e37 is finite, but
    v_t / (1 - b2) overflows. torch divides the roots, and Adam's first steps are
    then -lr each (m_hat / sqrt(v_hat) = 1); dividing before the root gave 0."""
    optimizer = factory(1e-3, weight_decay=None, amsgrad=amsgrad)
    params = jnp.zeros(3)
    state = optimizer.init(params)
    for _ in range(3):
        updates, state = optimizer.update(jnp.full(3, 1e20), state, params)
        chex.assert_trees_all_close(updates, jnp.full(3, -1e-3), rtol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_nan_gradient_stays_in_its_leaf_and_its_config(name):
    params = quadratic_params()
    grads = jax.grad(quadratic_loss)(params)
    poisoned = {**grads, "b": grads["b"].at[0].set(jnp.nan)}
    optimizer = build(name)
    updates, _ = optimizer.update(poisoned, optimizer.init(params), params)
    clean, _ = optimizer.update(grads, optimizer.init(params), params)
    chex.assert_trees_all_close(updates["w"], clean["w"])
    assert np.isnan(updates["b"][0]) and np.isfinite(updates["b"][1])

    # Three vmapped configs: only the one given a NaN gradient is affected.
    states = jax.vmap(lambda lr: build(name, learning_rate=lr).init(params))(
        jnp.array([0.01, 0.02, 0.03])
    )
    batch = jax.tree.map(lambda g, p: jnp.stack([g, p, g]), grads, poisoned)
    batched, _ = jax.vmap(optimizer.update, in_axes=(0, 0, None))(batch, states, params)
    for i in (0, 2):
        solo = build(name, learning_rate=[0.01, 0.02, 0.03][i])
        expected, _ = solo.update(grads, solo.init(params), params)
        chex.assert_trees_all_close(
            jax.tree.map(lambda x, i=i: x[i], batched), expected
        )


@pytest.mark.parametrize("name", NAMES)
def test_state_can_be_donated_no_two_leaves_share_a_buffer(name):
    optimizer = build(name)
    params = quadratic_params()
    state = optimizer.init(params)
    pointers = [x.unsafe_buffer_pointer() for x in jax.tree.leaves((params, state))]
    assert len(pointers) == len(set(pointers))
    # The optimizer can be initialised again after a state was donated.
    again = optimizer.init(params)

    @jax.jit
    def plain(params, state):
        updates, state = optimizer.update(
            jax.grad(quadratic_loss)(params), state, params
        )
        return optax.apply_updates(params, updates), state

    donated = jax.jit(plain, donate_argnums=(0, 1))
    expected = jax.tree.map(jnp.copy, (params, again))
    for _ in range(3):
        params, state = donated(params, state)
        expected = plain(*expected)
    chex.assert_trees_all_equal((params, state), expected)
    assert not jax.tree.leaves(again)[0].is_deleted()
