"""Flax (NNX and linen TrainState) training, and checkpoints that resume exactly."""

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
import orbax.checkpoint as ocp
import pytest
from flax import nnx, serialization
from flax.training import train_state

import jaxsched as js


def _data(n=64):
    x = jax.random.normal(jax.random.key(0), (n, 4))
    y = jnp.tanh(x @ jnp.array([0.5, -1.0, 0.25, 1.5]))[:, None]
    return x, y


class NnxMLP(nnx.Module):
    def __init__(self, rngs):
        self.hidden = nnx.Linear(4, 16, rngs=rngs)
        self.out = nnx.Linear(16, 1, rngs=rngs)

    def __call__(self, x):
        return self.out(nnx.relu(self.hidden(x)))


def test_flax_nnx_optimizer_trains_mlp_with_adamw_and_schedule():
    x, y = _data()
    model = NnxMLP(nnx.Rngs(0))
    schedule = js.schedules.warmup_cosine_decay(0.0, 1e-2, 10, 200)
    tx = optax.chain(
        optax.clip_by_global_norm(1.0), js.adamw(schedule, weight_decay=1e-4)
    )
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)

    @nnx.jit
    def step(model, optimizer):
        def loss_fn(model):
            return jnp.mean((model(x) - y) ** 2)

        loss, grads = nnx.value_and_grad(loss_fn)(model)
        optimizer.update(model, grads)
        return loss

    with jax.numpy_dtype_promotion("standard"):
        losses = [float(step(model, optimizer)) for _ in range(200)]
    assert losses[-1] < 0.1 * losses[0]


class LinenMLP(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(1)(nn.relu(nn.Dense(16)(x)))


@pytest.mark.parametrize("factory", [js.sgd, js.rmsprop, js.adam])
def test_flax_linen_train_state_trains(factory):
    x, y = _data()
    model = LinenMLP()
    with jax.numpy_dtype_promotion("standard"):
        params = model.init(jax.random.key(1), x)["params"]
        state = train_state.TrainState.create(
            apply_fn=model.apply,
            params=params,
            tx=factory(0.05 if factory is js.sgd else 1e-2),
        )

    @jax.jit
    def step(state):
        def loss_fn(params):
            return jnp.mean((state.apply_fn({"params": params}, x) - y) ** 2)

        loss, grads = jax.value_and_grad(loss_fn)(state.params)
        return state.apply_gradients(grads=grads), loss

    losses = []
    with jax.numpy_dtype_promotion("standard"):
        for _ in range(150):
            state, loss = step(state)
            losses.append(float(loss))
    assert losses[-1] < 0.1 * losses[0]


def _run(optimizer, params, state, steps):
    x, y = _data()

    @jax.jit
    def step(params, state):
        def loss_fn(p):
            return jnp.mean((jnp.tanh(x @ p["w"]) @ p["v"] - y) ** 2)

        grads = jax.grad(loss_fn)(params)
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    for _ in range(steps):
        params, state = step(params, state)
    return params, state


def _setup():
    params = {
        "w": jax.random.normal(jax.random.key(2), (4, 8)) * 0.5,
        "v": jax.random.normal(jax.random.key(3), (8, 1)) * 0.5,
    }
    schedule = js.schedules.cosine_warmup_restarts(10, 1.5, 1e-2, 1e-4, 3, 0.8)
    optimizer = js.adamw(schedule, amsgrad=True)
    return optimizer, params


def test_checkpoint_msgpack_resume_equals_uninterrupted_bit_for_bit():
    optimizer, params = _setup()
    expected = _run(optimizer, params, optimizer.init(params), 20)

    mid = _run(optimizer, params, optimizer.init(params), 8)
    blob = serialization.msgpack_serialize(jax.tree.leaves(mid))
    # Restore into the structure of a fresh state (a new process would build one).
    template = (params, optimizer.init(params))
    leaves = serialization.msgpack_restore(blob)
    restored = jax.tree.unflatten(jax.tree.structure(template), leaves)
    resumed = _run(optimizer, *restored, 12)
    chex.assert_trees_all_equal(resumed, expected)


def test_checkpoint_orbax_resume_equals_uninterrupted_bit_for_bit(tmp_path):
    optimizer, params = _setup()
    expected = _run(optimizer, params, optimizer.init(params), 20)

    mid = _run(optimizer, params, optimizer.init(params), 8)
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(tmp_path / "ckpt", mid)
    checkpointer.wait_until_finished()
    template = jax.tree.map(
        ocp.utils.to_shape_dtype_struct, (params, optimizer.init(params))
    )
    restored = checkpointer.restore(tmp_path / "ckpt", template)
    resumed = _run(optimizer, *restored, 12)
    chex.assert_trees_all_equal(resumed, expected)


def test_train_state_with_a_schedule_round_trips_through_flax_serialization():
    # flax's to_bytes / from_bytes (TrainState checkpoints) with a Schedule held in
    # the optimizer state: its hyperparameters are saved by name.
    optimizer, params = _setup()
    with jax.numpy_dtype_promotion("standard"):
        state = train_state.TrainState.create(
            apply_fn=None, params=params, tx=optimizer
        )
    mid = state.replace(opt_state=_run(optimizer, params, state.opt_state, 8)[1])
    blob = serialization.to_bytes(mid)
    restored = serialization.from_bytes(state, blob)
    chex.assert_trees_all_equal(restored.opt_state, mid.opt_state)
    chex.assert_trees_all_equal_structs(restored.opt_state, mid.opt_state)


def test_set_hparams_inside_nnx_optimizer_with_a_schedule_and_back():
    # nnx wraps the state's arrays: a schedule set in it is wrapped as they are
    # (unwrapped, the next step failed on flax's "immutable node" Schedule)
    x, y = _data()
    model = NnxMLP(nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, js.sgd(0.1), wrt=nnx.Param)

    @nnx.jit
    def step(model, optimizer):
        grads = nnx.grad(lambda model: jnp.mean((model(x) - y) ** 2))(model)
        optimizer.update(model, grads)

    def set_hparams(**values):
        optimizer.opt_state = js.set_hparams(optimizer.opt_state, **values)

    kernel = model.out.kernel[...]
    set_hparams(learning_rate=js.schedules.constant(0.0))
    with jax.numpy_dtype_promotion("standard"):
        step(model, optimizer)
        chex.assert_trees_all_equal(model.out.kernel[...], kernel)
        set_hparams(learning_rate=0.1)
        step(model, optimizer)
    assert not jnp.array_equal(model.out.kernel[...], kernel)


def test_hparams_of_an_nnx_state_split_from_an_optimizer_say_where_they_are():
    optimizer = nnx.Optimizer(
        nnx.Linear(2, 1, rngs=nnx.Rngs(0)), js.adam(1e-3), wrt=nnx.Param
    )
    assert "learning_rate" in js.get_hparams(optimizer.opt_state)
    _, state = nnx.split(optimizer)
    with pytest.raises(ValueError, match="pass the `nnx.Optimizer`'s `opt_state`"):
        js.get_hparams(state)
    with pytest.raises(ValueError, match="pass the `nnx.Optimizer`'s `opt_state`"):
        js.set_hparams(state, learning_rate=1e-4)
