"""The digits MLP's hand-written last-layer gradient equals autodiff's, in every
way a user differentiates or batches it."""

import chex
import jax
import jax.numpy as jnp
import optax
import pytest

from jaxsched import digits


def autodiff_loss(params, batch):
    """``digits.loss`` with every layer a plain ``w @ h`` (JAX's own gradient)."""
    x, y = batch
    layers = len(params) // 2
    h = x.T
    for i in range(layers):
        h = params[f"w{i}"] @ h + params[f"b{i}"][:, None]
        if i < layers - 1:
            h = jax.nn.relu(h)
    return optax.softmax_cross_entropy_with_integer_labels(h, y, axis=0).mean()


def problem(sizes=(64, 128, 10), batch=32, seed=0):
    kp, kx, ky = jax.random.split(jax.random.key(seed), 3)
    params = digits.init_mlp(kp, sizes)
    x = jax.random.normal(kx, (batch, sizes[0]))
    y = jax.random.randint(ky, (batch,), 0, sizes[-1])
    return params, (x, y)


@pytest.mark.parametrize("sizes", [(64, 128, 10), (64, 32, 16, 20), (8, 3)])
def test_gradient_equals_autodiff(sizes):
    """Ten classes (multiply-adds), 20 classes (a dot), and a single layer, whose
    input gradient nobody needs."""
    params, batch = problem(sizes)
    chex.assert_trees_all_close(
        jax.grad(digits.loss)(params, batch),
        jax.grad(autodiff_loss)(params, batch),
        rtol=1e-5,
        atol=1e-7,
    )


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


def test_hessian_vector_product_equals_autodiff():
    """Forward over reverse (``jvp`` of ``grad``) goes through the custom
    backward pass."""
    params, batch = problem()
    tangent = jax.tree.map(jnp.ones_like, params)

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
