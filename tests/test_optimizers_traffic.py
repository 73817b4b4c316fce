"""Each update moves no more memory than its optax twin: bytes accessed by the
compiled, donated ``update + apply_updates`` (XLA's cost analysis of the HLO, a
count, not a timing). A rule that makes XLA read a buffer twice, or materialise a
term into fresh memory, shows here first (benchmarks/update_step.py times it)."""

import jax
import jax.numpy as jnp
import optax
import pytest

import jaxsched as js


def _traced_decay(optimizer):
    """optax with jaxsched's default `weight_decay=0.0` kept as data."""
    decay = optax.inject_hyperparams(optax.add_decayed_weights)(weight_decay=0.0)
    return optax.chain(decay, optimizer)


PAIRS = {
    "sgd momentum": (
        js.sgd(1e-3, momentum=0.9, weight_decay=None),
        optax.sgd(1e-3, momentum=0.9),
    ),
    "sgd momentum, traced decay": (
        js.sgd(1e-3, momentum=0.9),
        _traced_decay(optax.sgd(1e-3, momentum=0.9)),
    ),
    "sgd nesterov": (
        js.sgd(1e-3, momentum=0.9, weight_decay=None, nesterov=True),
        optax.sgd(1e-3, momentum=0.9, nesterov=True),
    ),
    "adagrad": (
        js.adagrad(1e-2, 0.0, None, 0.1, 0.0),
        optax.adagrad(1e-2, initial_accumulator_value=0.1, eps=0.0),
    ),
    "rmsprop": (
        js.rmsprop(1e-3, momentum=None, weight_decay=None),
        optax.rmsprop(1e-3, 0.99, 1e-8, eps_in_sqrt=False),
    ),
    "rmsprop momentum, centered": (
        js.rmsprop(1e-3, momentum=0.9, weight_decay=None, centered=True),
        optax.rmsprop(1e-3, 0.99, 1e-8, eps_in_sqrt=False, momentum=0.9, centered=True),
    ),
    "adam": (js.adam(1e-3, weight_decay=None), optax.adam(1e-3)),
    "adam, traced decay": (js.adam(1e-3), _traced_decay(optax.adam(1e-3))),
    "adamw": (
        js.adamw(1e-3, weight_decay=1e-2),
        optax.adamw(1e-3, weight_decay=1e-2),
    ),
}


def _bytes_per_parameter(optimizer, size=2**16):
    params = jnp.ones(size)

    def step(params, state, grads):
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    with jax.numpy_dtype_promotion("standard"):
        state = optimizer.init(params)
        step = jax.jit(step, donate_argnums=(0, 1))
        compiled = step.lower(params, state, params).compile()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return cost["bytes accessed"] / size


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_update_moves_no_more_memory_than_optax(name):
    ours, theirs = (_bytes_per_parameter(o) for o in PAIRS[name])
    assert ours <= theirs + 0.01, f"{ours:.2f} bytes per parameter, optax {theirs:.2f}"


@pytest.mark.parametrize("factory", [js.sgd, js.adagrad, js.rmsprop, js.adam])
def test_zero_weight_decay_known_to_xla_reads_no_parameters(factory):
    # A state made inside the compiled function (a sweep's train_fn) holds the
    # default weight_decay=0.0 as a constant: the L2 term must then cost what
    # weight_decay=None costs (0 * p is not 0 for an infinite p, so XLA keeps a
    # plain `g + 0 * p`).
    def compiled_bytes(weight_decay):
        optimizer = factory(1e-3, weight_decay=weight_decay)

        def train(params, grads):
            def step(carry, _):
                params, state = carry
                updates, state = optimizer.update(grads, state, params)
                return (optax.apply_updates(params, updates), state), None

            carry = (params, optimizer.init(params))
            return jax.lax.scan(step, carry, length=3)[0][0]

        params = jnp.ones(2**16)
        with jax.numpy_dtype_promotion("standard"):
            compiled = jax.jit(train).lower(params, params).compile()
        cost = compiled.cost_analysis()
        cost = cost[0] if isinstance(cost, list) else cost
        return cost["bytes accessed"]

    assert compiled_bytes(0.0) == compiled_bytes(None)


@pytest.mark.parametrize("momentum", [None, 0.0], ids=["no momentum", "momentum 0.0"])
def test_rmsprop_l2_term_is_recomputed_not_written_to_memory(momentum):
    # The decayed gradient g + wd p feeds two kernels (the square average and the
    # step): read p once more in each (4 bytes a kernel), never written to a
    # temporary (12 bytes: written, then read twice), which without donation is
    # fresh memory every step.
    lean = _bytes_per_parameter(js.rmsprop(1e-3, momentum=momentum, weight_decay=None))
    traced = _bytes_per_parameter(js.rmsprop(1e-3, momentum=momentum))
    assert traced - lean <= 8.01, f"{traced:.2f} bytes per parameter, {lean:.2f} lean"
