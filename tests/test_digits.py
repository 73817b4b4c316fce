"""The digits MLP's last layer, whose tangent is written for a fast backward pass,
differentiates as autodiff does: values, dtypes, forward and reverse mode, vmap
and sharding."""

import os
import subprocess
import sys

import chex
import jax
import jax.numpy as jnp
import optax
import pytest

from jaxsched import digits


def autodiff_loss(params, batch):
    """``digits.loss`` with every layer a plain ``w @ h`` (JAX's own derivatives)."""
    x, y = batch
    layers = len(params) // 2
    h = x.T
    for i in range(layers):
        h = params[f"w{i}"] @ h + params[f"b{i}"][:, None]
        if i < layers - 1:
            h = jax.nn.relu(h)
    return optax.softmax_cross_entropy_with_integer_labels(h, y, axis=0).mean()


def problem(sizes=(64, 128, 10), batch=32, seed=0, dtype=jnp.float32):
    kp, kx, ky = jax.random.split(jax.random.key(seed), 3)
    params = jax.tree.map(lambda p: p.astype(dtype), digits.init_mlp(kp, sizes))
    x = jax.random.normal(kx, (batch, sizes[0]), dtype)
    y = jax.random.randint(ky, (batch,), 0, sizes[-1])
    return params, (x, y)


def random_like(tree, seed=1):
    leaves, treedef = jax.tree.flatten(tree)
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    return treedef.unflatten(
        [
            jax.random.normal(k, x.shape, x.dtype)
            for k, x in zip(keys, leaves, strict=True)
        ]
    )


@pytest.mark.parametrize(
    "sizes", [(64, 128, 10), (64, 32, 16), (64, 32, 16, 17), (8, 3), (1, 1)]
)
def test_gradient_equals_autodiff(sizes):
    """Ten and 16 classes (multiply-adds), 17 (a dot), a single layer and class."""
    params, batch = problem(sizes)
    chex.assert_trees_all_close(
        jax.grad(digits.loss)(params, batch),
        jax.grad(autodiff_loss)(params, batch),
        rtol=1e-5,
        atol=1e-7,
    )


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_narrow_gradients_equal_autodiff_in_their_dtype(dtype):
    """In bf16 and f16 the input gradient is a dot (it sums in float32), so the
    gradients are autodiff's, in the parameters' dtype."""
    params, batch = problem(dtype=dtype)
    ours = jax.grad(digits.loss)(params, batch)
    chex.assert_trees_all_equal_dtypes(ours, params)
    chex.assert_trees_all_close(ours, jax.grad(autodiff_loss)(params, batch))


def test_mixed_dtypes_keep_each_parameters_dtype():
    params, (x, y) = problem()
    params = params | {"w0": params["w0"].astype(jnp.bfloat16)}
    params |= {"b0": params["b0"].astype(jnp.bfloat16)}
    batch = (x.astype(jnp.bfloat16), y)
    with jax.numpy_dtype_promotion("standard"):
        ours = jax.grad(digits.loss)(params, batch)
        theirs = jax.grad(autodiff_loss)(params, batch)
    chex.assert_trees_all_equal_dtypes(ours, params)
    chex.assert_trees_all_close(ours, theirs)


def test_integer_images_need_no_input_gradient():
    params, (x, y) = problem((64, 10))
    batch = (x.astype(jnp.int32), y)
    with jax.numpy_dtype_promotion("standard"):
        ours = jax.grad(digits.loss)(params, batch)
        theirs = jax.grad(autodiff_loss)(params, batch)
    chex.assert_trees_all_close(ours, theirs, rtol=1e-5)


def test_vmapped_gradient_equals_each_configuration_alone():
    """The batched backward pass (what a sweep runs) equals one run at a time."""
    params = jax.vmap(lambda k: problem(seed=k)[0])(jnp.arange(4))
    _, batch = problem()
    batched = jax.vmap(jax.grad(digits.loss), in_axes=(0, None))(params, batch)
    for i in range(4):
        one = jax.tree.map(lambda p, i=i: p[i], params)
        chex.assert_trees_all_close(
            jax.tree.map(lambda g, i=i: g[i], batched),
            jax.grad(autodiff_loss)(one, batch),
            rtol=1e-5,
            atol=1e-7,
        )


def test_forward_mode_equals_autodiff():
    """``jvp`` of the loss and ``jacfwd`` of the logits by the images."""
    params, (x, y) = problem(batch=4)
    tangent = random_like(params)
    for fn in (digits.loss, autodiff_loss):
        assert jnp.isfinite(
            jax.jvp(lambda p, fn=fn: fn(p, (x, y)), (params,), (tangent,))[1]
        )
    chex.assert_trees_all_close(
        jax.jvp(lambda p: digits.loss(p, (x, y)), (params,), (tangent,)),
        jax.jvp(lambda p: autodiff_loss(p, (x, y)), (params,), (tangent,)),
        rtol=1e-5,
    )
    jacobian = jax.jacfwd(digits.logits, argnums=1)(params, x)
    expected = jax.jacrev(digits.logits, argnums=1)(params, x)
    chex.assert_trees_all_close(jacobian, expected, rtol=1e-5, atol=1e-6)


def test_hessian_vector_product_equals_autodiff():
    """Forward over reverse (``jvp`` of ``grad``), along a random direction (an
    all-ones one cannot see the last layer's weights in the input gradient: the
    softmax gradient sums to 0 over the classes)."""
    params, batch = problem()
    tangent = random_like(params)

    def hvp(loss):
        return jax.jvp(lambda p: jax.grad(loss)(p, batch), (params,), (tangent,))[1]

    chex.assert_trees_all_close(
        hvp(digits.loss), hvp(autodiff_loss), rtol=1e-4, atol=1e-6
    )


def test_hypergradient_through_training_equals_autodiff():
    """Reverse over reverse: the gradient of the validation loss with respect to
    the learning rate, through ten SGD steps."""
    params, batch = problem()

    def val_loss(lr, loss):
        def step(p, _):
            g = jax.grad(loss)(p, batch)
            return jax.tree.map(lambda w, d: w - lr * d, p, g), None

        trained, _ = jax.lax.scan(step, params, None, length=10)
        return loss(trained, batch)

    lr = jnp.float32(0.05)
    chex.assert_trees_all_close(
        jax.grad(val_loss)(lr, digits.loss),
        jax.grad(val_loss)(lr, autodiff_loss),
        rtol=1e-4,
    )


def test_gradient_of_a_sharded_batch_equals_autodiff():
    """Data parallel on 2 CPU devices: the batch sharded over an explicit mesh
    under ``jit``, and split by ``shard_map`` (which sums the replicated
    parameters' gradients)."""
    code = """
import jax, jax.numpy as jnp, chex
from jax.sharding import NamedSharding, PartitionSpec as P
from jaxsched import digits
from test_digits import autodiff_loss, problem
params, (x, y) = problem()
mesh = jax.make_mesh((2,), ("d",))
batch = (jax.device_put(x, NamedSharding(mesh, P("d"))),
         jax.device_put(y, NamedSharding(mesh, P("d"))))
expected = jax.grad(autodiff_loss)(params, (x, y))
with jax.set_mesh(mesh):
    chex.assert_trees_all_close(jax.jit(jax.grad(digits.loss))(params, batch),
                                expected, rtol=1e-5, atol=1e-7)
def split(loss):  # each device's gradient of its half, as shard_map sums them
    local = lambda params, x, y: jax.grad(loss)(params, (x, y))
    specs = (P(), P("d"), P("d"))
    return jax.jit(jax.shard_map(local, mesh=mesh, in_specs=specs, out_specs=P()))
chex.assert_trees_all_close(split(digits.loss)(params, *batch),
                            split(autodiff_loss)(params, *batch), rtol=1e-5, atol=1e-7)
print("ok")
"""
    env = os.environ | {
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
        "PYTHONPATH": os.path.dirname(__file__),
    }
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env
    )
    assert result.stdout.strip() == "ok", result.stderr[-2000:]
