"""Concrete invalid hyperparameters raise a ValueError naming the argument."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxsched as js

INVALID = [
    (js.sgd, dict(learning_rate=-0.1), "learning_rate"),
    (js.sgd, dict(learning_rate=0.1, momentum=1.0), "momentum"),
    (js.sgd, dict(learning_rate=0.1, momentum=-0.1), "momentum"),
    (js.sgd, dict(learning_rate=0.1, momentum=0.9, dampening=1.0), "dampening"),
    (js.sgd, dict(learning_rate=0.1, dampening=-0.5), "dampening"),
    (js.sgd, dict(learning_rate=0.1, weight_decay=-1e-4), "weight_decay"),
    (js.sgd, dict(learning_rate=0.1, nesterov=True), "momentum"),
    (
        js.sgd,
        dict(learning_rate=0.1, momentum=0.9, dampening=0.1, nesterov=True),
        "dampening",
    ),
    (js.sgd, dict(learning_rate=float("nan")), "learning_rate"),
    (js.sgd, dict(learning_rate=float("inf")), "learning_rate"),
    (js.adam, dict(eps=float("inf")), "eps"),
    (js.sgd, dict(learning_rate=np.array([0.1, -0.1])), "learning_rate"),
    (js.adagrad, dict(learning_rate=-1.0), "learning_rate"),
    (js.adagrad, dict(lr_decay=-0.1), "lr_decay"),
    (js.adagrad, dict(weight_decay=-0.1), "weight_decay"),
    (js.adagrad, dict(initial_accumulator_value=-0.1), "initial_accumulator_value"),
    (js.adagrad, dict(eps=-1e-10), "eps"),
    (js.rmsprop, dict(learning_rate=-0.01), "learning_rate"),
    (js.rmsprop, dict(decay=1.0), "decay"),
    (js.rmsprop, dict(decay=1.5), "decay"),
    (js.rmsprop, dict(decay=-0.1), "decay"),
    (js.rmsprop, dict(eps=-1e-8), "eps"),
    (js.rmsprop, dict(weight_decay=-1.0), "weight_decay"),
    (js.rmsprop, dict(momentum=1.0), "momentum"),
    (js.adam, dict(learning_rate=-1e-3), "learning_rate"),
    (js.adam, dict(b1=1.0), "b1"),
    (js.adam, dict(b1=-0.1), "b1"),
    (js.adam, dict(b2=1.0), "b2"),
    (js.adam, dict(b2=2.0), "b2"),
    (js.adam, dict(eps=-1e-8), "eps"),
    (js.adam, dict(weight_decay=-0.01), "weight_decay"),
    (js.adamw, dict(learning_rate=-1e-3), "learning_rate"),
    (js.adamw, dict(b1=1.1), "b1"),
    (js.adamw, dict(b2=-0.5), "b2"),
    (js.adamw, dict(weight_decay=-0.01), "weight_decay"),
    (js.adamw, dict(eps=-1.0), "eps"),
    (js.scale_by_momentum, dict(momentum=1.2), "momentum"),
    (js.scale_by_adagrad, dict(eps=-1.0), "eps"),
    (js.scale_by_rmsprop, dict(momentum=-0.5), "momentum"),
    (js.scale_by_adam, dict(b1=1.0), "b1"),
    (js.add_weight_decay, dict(weight_decay=-1.0), "weight_decay"),
    (js.scale_by_learning_rate, dict(learning_rate=-1.0), "learning_rate"),
    (js.adam, dict(hparam_dtype=jnp.int32), "hparam_dtype"),
]


def test_validation_table_has_at_least_30_cases():
    assert len(INVALID) >= 30


@pytest.mark.parametrize("factory, kwargs, arg", INVALID)
def test_optimizer_invalid_concrete_input_raises_naming_argument(factory, kwargs, arg):
    with pytest.raises(ValueError, match=f"`{arg}"):
        factory(**kwargs)


@pytest.mark.skipif(jax.config.jax_enable_x64, reason="float64 is stored under x64")
def test_float64_hparams_without_x64_are_refused():
    # JAX would store float32: b2 = 1 - 1e-9, checked in float64, became 1 (NaN)
    with pytest.raises(ValueError, match="`hparam_dtype=float64` needs 64-bit mode"):
        js.adam(1e-3, b2=1 - 1e-9, hparam_dtype=jnp.float64)
    with pytest.raises(ValueError, match=r"`b2=0\.999999999` becomes 1 in float32"):
        js.adam(1e-3, b2=1 - 1e-9)


def test_float64_hparams_under_x64_are_stored_as_float64():
    with jax.enable_x64(True):
        state = js.adam(1e-3, b2=1 - 1e-9, hparam_dtype=jnp.float64).init(jnp.ones(2))
        assert js.get_hparams(state)["b2"].dtype == jnp.float64


def test_optimizer_error_messages_are_sentences_with_the_range():
    with pytest.raises(ValueError) as error:
        js.adam(b2=1.0)
    assert str(error.value) == "`b2=1` is out of range: `b2` must be in [0, 1)."
    with pytest.raises(ValueError, match="`momentum` must be > 0 with `nesterov=True`"):
        js.sgd(0.1, nesterov=True)


def test_optimizer_non_numeric_hyperparameter_is_a_type_error():
    with pytest.raises(TypeError, match="`b1` must be a number"):
        js.adam(b1="0.9")
    with pytest.raises(TypeError, match="`learning_rate` must be a number.*None"):
        js.adam(None)
    with pytest.raises(TypeError, match="`value` must be a number.*None"):
        js.schedules.constant(None)


def test_traced_hyperparameters_are_not_checked_when_built():
    # Documented: values inside jit/vmap cannot be checked when the optimizer is built.
    def first_update(lr):
        optimizer = js.sgd(lr)
        return optimizer.update(jnp.ones(1), optimizer.init(jnp.ones(1)), jnp.ones(1))[
            0
        ]

    assert float(jax.jit(first_update)(-1.0)[0]) == 1.0


def test_nesterov_accepts_a_scheduled_momentum():
    # A schedule's values cannot be checked when it is built (only numbers are).
    scheduled = js.sgd(0.1, momentum=js.schedules.constant(0.9), nesterov=True)
    constant = js.sgd(0.1, momentum=0.9, nesterov=True)
    params, grads = jnp.ones(3), jnp.full(3, 0.5)
    for optimizer in (scheduled, constant):
        state = optimizer.init(params)
        for _ in range(3):
            updates, state = optimizer.update(grads, state, params)
        np.testing.assert_allclose(updates, -0.1 * (0.5 + 0.9 * 0.5 * 2.71), rtol=1e-6)


def test_error_messages_show_a_float32_value_as_it_was_written():
    with pytest.raises(ValueError, match=r"`learning_rate=-0\.1` is out of range"):
        js.sgd(jnp.array(-0.1))
    with pytest.raises(ValueError, match=r"an array holding 1\.3\)"):
        js.adam(b1=np.array([0.9, 1.3], np.float32))


@pytest.mark.parametrize(
    "make, flag",
    [
        (lambda v: js.sgd(0.1, momentum=0.9, nesterov=v), "nesterov"),
        (lambda v: js.scale_by_momentum(0.9, zero_init=v), "zero_init"),
        (lambda v: js.rmsprop(0.1, centered=v), "centered"),
        (lambda v: js.adam(0.1, amsgrad=v), "amsgrad"),
        (lambda v: js.adamw(0.1, amsgrad=v), "amsgrad"),
    ],
)
def test_structural_flag_that_is_not_a_bool_is_a_clear_error(make, flag):
    """A string such as "false" is truthy: it silently meant True."""
    for value in ("false", 0, None):
        with pytest.raises(ValueError, match=f"`{flag}=.*must be True or False"):
            make(value)
    make(np.bool_(False))
