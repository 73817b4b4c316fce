r"""The named optimizers: chains of :mod:`jaxsched.transforms`, with PyTorch's
defaults and update rules.

Every numeric argument may be a number, an array, a tracer, a
:class:`~jaxsched.schedules.Schedule` or any ``step -> value`` callable; all of
them live in the optimizer state (read them with :func:`jaxsched.get_hparams`,
replace them with :func:`jaxsched.set_hparams`). Structural options
(``nesterov``, ``centered``, ``amsgrad``) are static: they change the program or
the state's shape.

``weight_decay=None`` (and ``momentum=None`` for :func:`sgd` and :func:`rmsprop`)
is a structural choice: the term and its buffer are left out of the program and
of the state. A number, even 0, keeps them, so the value can be traced, swept
with ``vmap`` or replaced later; the price is memory traffic (the L2 term reads
the parameters once more in each XLA kernel that needs the decayed gradient; a
momentum buffer is read and written every step). A weight decay of 0 skips the
parameters, as torch's ``if weight_decay != 0`` does, so where XLA sees the 0 as
a constant (a state made inside the compiled function, as in a sweep's
``train_fn``) the term costs nothing.

Inside ``optax.inject_hyperparams`` these optimizers train as they do alone, but
their hyperparameters live in their own state: read and change them with
:func:`~jaxsched.get_hparams` / :func:`~jaxsched.set_hparams` (which find them
inside the wrapper), not through the wrapper's ``hyperparams``, which update
does not read. The same goes for a schedule given to the wrapper
(``inject_hyperparams(js.sgd)(learning_rate=schedule)`` trains at the schedule's
first value): give it to the optimizer itself, ``js.sgd(schedule)``, which steps
it with its own count.

PyTorch's ``maximize=True`` is minimising the negated objective: torch negates the
gradient before anything else, its L2 term included.

A complex parameter steps as torch steps it: as two real parameters, its real and
imaginary parts (``torch.view_as_real``), so Adagrad, RMSprop and Adam scale each
part by its own second moment (optax scales both by the squared magnitude).

Two float effects that torch on a CPU does not share. The hyperparameters are
stored in their dtype (float32 unless x64 is on, or ``hparam_dtype``), and a
factor such as :math:`1 - \beta` is computed from the stored value, where torch
subtracts the Python float: close to 1 the factor loses digits (``dampening`` or
``b1`` of 0.999999 gives :math:`1 - \beta` 1.3% off in float32; ``b2=0.999``,
1.3e-5). Float64 hyperparameters (``hparam_dtype=jnp.float64`` under x64) agree
with torch. And XLA's CPU backend flushes subnormal floats to zero: an ``eps``, a
gradient or a moment below the smallest normal float (1.2e-38 in float32) acts
as 0.
"""

from __future__ import annotations

import optax
from jax.typing import DTypeLike

from jaxsched.hparams import HyperparamLike, check_hparam
from jaxsched.transforms import (
    add_weight_decay,
    scale_by_adagrad,
    scale_by_adam,
    scale_by_learning_rate,
    scale_by_momentum,
    scale_by_rmsprop,
)


def _chain(*transforms: optax.GradientTransformation | None):
    """``optax.chain`` of the transformations that are not ``None``."""
    return optax.chain(*(t for t in transforms if t is not None))


def _l2(weight_decay: HyperparamLike | None, hparam_dtype: DTypeLike | None):
    """The L2 term folded into the gradient, unless ``weight_decay`` is None."""
    if weight_decay is None:
        return None
    return add_weight_decay(weight_decay, hparam_dtype=hparam_dtype)


def sgd(
    learning_rate: HyperparamLike,
    momentum: HyperparamLike | None = 0.0,
    dampening: HyperparamLike = 0.0,
    weight_decay: HyperparamLike | None = 0.0,
    *,
    nesterov: bool = False,
    hparam_dtype: DTypeLike | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""Stochastic gradient descent with momentum, dampening and L2 weight decay.

    .. math::
       g_t \leftarrow g_t + \lambda p_{t-1}, \quad
       b_t = \mu b_{t-1} + (1 - \tau) g_t \ (b_1 = g_1), \quad
       p_t = p_{t-1} - \eta \begin{cases} g_t + \mu b_t & \text{nesterov} \\
                                          b_t \end{cases}

    Reproduce: torch ``SGD(lr, momentum, dampening, weight_decay, nesterov)``;
    ``optax.sgd(lr, momentum, nesterov)`` when ``dampening=0`` (chained after
    ``optax.add_decayed_weights(weight_decay)`` for the L2 term).

    Args:
      learning_rate: :math:`\eta`, >= 0.
      momentum: :math:`\mu`, in [0, 1); ``None``: plain SGD, no buffer.
      dampening: :math:`\tau`, in [0, 1); no effect while the momentum is 0
        (as torch).
      weight_decay: :math:`\lambda`, >= 0 (an L2 term in the gradient);
        ``None``: no term.
      nesterov: static; Nesterov momentum (needs ``momentum > 0``,
        ``dampening = 0``).
      hparam_dtype: float dtype of the hyperparameters (default: JAX's default).

    Returns:
      An ``optax.GradientTransformationExtraArgs``:
      ``chain(add_weight_decay, scale_by_momentum, scale_by_learning_rate)``.

    Example:
      >>> import jax.numpy as jnp, optax, jaxsched as js
      >>> opt = js.sgd(0.01, momentum=0.9)
      >>> w = jnp.array([1.0])  # loss w**2 / 2, gradient w
      >>> state = opt.init(w)
      >>> for _ in range(2):
      ...     updates, state = opt.update(w, state, w)
      ...     w = optax.apply_updates(w, updates)
      ...     print(f"{w[0]:.4f}")
      0.9900
      0.9711

    References:
      Robbins and Monro, A Stochastic Approximation Method, 1951; Sutskever et
      al., `On the importance of initialization and momentum in deep learning
      <https://proceedings.mlr.press/v28/sutskever13.html>`_, 2013.
    """
    if momentum is None:
        check_hparam("dampening", dampening, lambda d: d == 0, "0 with `momentum=None`")
        if nesterov:
            raise ValueError("`nesterov=True` needs a `momentum`, not None.")
    return _chain(
        _l2(weight_decay, hparam_dtype),
        None
        if momentum is None
        else scale_by_momentum(
            momentum, dampening, nesterov=nesterov, hparam_dtype=hparam_dtype
        ),
        scale_by_learning_rate(learning_rate, hparam_dtype=hparam_dtype),
    )


def adagrad(
    learning_rate: HyperparamLike = 0.01,
    lr_decay: HyperparamLike = 0.0,
    weight_decay: HyperparamLike | None = 0.0,
    initial_accumulator_value: HyperparamLike = 0.0,
    eps: HyperparamLike = 1e-10,
    *,
    hparam_dtype: DTypeLike | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""Adagrad with PyTorch's defaults (eps outside the root, no initial sum).

    .. math::
       g_t \leftarrow g_t + \lambda p_{t-1}, \quad
       s_t = a_0 + \textstyle\sum_{i \le t} g_i^2, \quad
       p_t = p_{t-1}
             - \frac{\eta}{1 + (t - 1)\delta}\, \frac{g_t}{\sqrt{s_t} + \epsilon}

    Reproduce: torch ``Adagrad(lr, lr_decay, weight_decay,
    initial_accumulator_value, eps)``. ``optax.adagrad`` puts eps inside the root
    (and defaults to :math:`a_0 = 0.1`, eps = 1e-7): equal only where eps is
    negligible.

    Args:
      learning_rate: :math:`\eta`, >= 0.
      lr_decay: :math:`\delta`, >= 0.
      weight_decay: :math:`\lambda`, >= 0 (an L2 term in the gradient);
        ``None``: no term.
      initial_accumulator_value: :math:`a_0`, >= 0.
      eps: :math:`\epsilon`, >= 0.
      hparam_dtype: float dtype of the hyperparameters.

    Returns:
      ``chain(add_weight_decay, scale_by_adagrad, scale_by_learning_rate)``.

    Example:
      >>> import jax.numpy as jnp, optax, jaxsched as js
      >>> opt = js.adagrad(0.01)
      >>> w = jnp.array([1.0])  # loss w**2 / 2, gradient w
      >>> state = opt.init(w)
      >>> for _ in range(2):
      ...     updates, state = opt.update(w, state, w)
      ...     w = optax.apply_updates(w, updates)
      ...     print(f"{w[0]:.5f}")
      0.99000
      0.98296

    References:
      Duchi et al., `Adaptive Subgradient Methods for Online Learning and
      Stochastic Optimization <https://jmlr.org/papers/v12/duchi11a.html>`_, 2011.
    """
    return _chain(
        _l2(weight_decay, hparam_dtype),
        scale_by_adagrad(
            initial_accumulator_value, eps, lr_decay, hparam_dtype=hparam_dtype
        ),
        scale_by_learning_rate(learning_rate, hparam_dtype=hparam_dtype),
    )


def rmsprop(
    learning_rate: HyperparamLike = 0.01,
    decay: HyperparamLike = 0.99,
    eps: HyperparamLike = 1e-8,
    weight_decay: HyperparamLike | None = 0.0,
    momentum: HyperparamLike | None = 0.0,
    *,
    centered: bool = False,
    hparam_dtype: DTypeLike | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""RMSprop as PyTorch's: eps outside the root, learning rate after momentum.

    .. math::
       g_t \leftarrow g_t + \lambda p_{t-1}, \quad
       v_t = \rho v_{t-1} + (1 - \rho) g_t^2, \quad
       b_t = \mu b_{t-1} + \frac{g_t}{\sqrt{v_t} + \epsilon}, \quad
       p_t = p_{t-1} - \eta\, b_t

    (``centered`` subtracts the square of the running mean of :math:`g` under the
    root.) Reproduce: torch ``RMSprop(lr, alpha=decay, eps, weight_decay,
    momentum, centered)``; ``optax.rmsprop(lr, decay, eps, eps_in_sqrt=False,
    centered, momentum)`` for a constant learning rate (optax scales by the rate
    before its momentum, so schedules differ).

    Args:
      learning_rate: :math:`\eta`, >= 0.
      decay: :math:`\rho` (torch's ``alpha``), in [0, 1).
      eps: :math:`\epsilon`, >= 0.
      weight_decay: :math:`\lambda`, >= 0 (an L2 term in the gradient);
        ``None``: no term.
      momentum: :math:`\mu`, in [0, 1); ``None``: no buffer.
      centered: static; normalise by the estimated standard deviation.
      hparam_dtype: float dtype of the hyperparameters.

    Returns:
      ``chain(add_weight_decay, scale_by_rmsprop, scale_by_learning_rate)``.

    Example:
      >>> import jax.numpy as jnp, optax, jaxsched as js
      >>> opt = js.rmsprop(0.01, decay=0.9)
      >>> w = jnp.array([1.0])  # loss w**2 / 2, gradient w
      >>> state = opt.init(w)
      >>> for _ in range(2):
      ...     updates, state = opt.update(w, state, w)
      ...     w = optax.apply_updates(w, updates)
      ...     print(f"{w[0]:.5f}")
      0.96838
      0.94579

    References:
      Tieleman and Hinton, Lecture 6.5 - RMSprop, COURSERA: Neural Networks for
      Machine Learning, 2012.
    """
    return _chain(
        _l2(weight_decay, hparam_dtype),
        scale_by_rmsprop(
            decay, eps, momentum, centered=centered, hparam_dtype=hparam_dtype
        ),
        scale_by_learning_rate(learning_rate, hparam_dtype=hparam_dtype),
    )


def adam(
    learning_rate: HyperparamLike = 1e-3,
    b1: HyperparamLike = 0.9,
    b2: HyperparamLike = 0.999,
    eps: HyperparamLike = 1e-8,
    weight_decay: HyperparamLike | None = 0.0,
    *,
    amsgrad: bool = False,
    hparam_dtype: DTypeLike | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""Adam with an L2 ``weight_decay`` folded into the gradient, as PyTorch's.

    .. math::
       g_t \leftarrow g_t + \lambda p_{t-1}, \quad
       p_t = p_{t-1} - \eta\, \frac{m_t / (1 - \beta_1^t)}
                                   {\sqrt{v_t} / \sqrt{1 - \beta_2^t} + \epsilon}

    with the moments of :func:`~jaxsched.scale_by_adam` (AMSGrad in torch's form).

    Reproduce: torch ``Adam(lr, betas=(b1, b2), eps, weight_decay, amsgrad)``;
    ``optax.adam(lr, b1, b2, eps)`` (after ``optax.add_decayed_weights`` for the
    L2 term; optax's ``amsgrad`` differs, see :func:`~jaxsched.scale_by_adam`).

    Args:
      learning_rate: :math:`\eta`, >= 0.
      b1: :math:`\beta_1`, in [0, 1).
      b2: :math:`\beta_2`, in [0, 1).
      eps: :math:`\epsilon`, >= 0.
      weight_decay: :math:`\lambda`, >= 0 (L2; for decoupled decay use
        :func:`adamw`); ``None``: no term.
      amsgrad: static; AMSGrad.
      hparam_dtype: float dtype of the hyperparameters.

    Returns:
      ``chain(add_weight_decay, scale_by_adam, scale_by_learning_rate)``.

    Example:
      >>> import jax.numpy as jnp, optax, jaxsched as js
      >>> opt = js.adam(0.01, b2=0.99)
      >>> w = jnp.array([1.0])  # loss w**2 / 2, gradient w
      >>> state = opt.init(w)
      >>> for _ in range(2):
      ...     updates, state = opt.update(w, state, w)
      ...     w = optax.apply_updates(w, updates)
      ...     print(f"{w[0]:.5f}")
      0.99000
      0.98000

    References:
      Kingma and Ba, `Adam: A Method for Stochastic Optimization
      <https://arxiv.org/abs/1412.6980>`_, 2015.
    """
    return _chain(
        _l2(weight_decay, hparam_dtype),
        scale_by_adam(b1, b2, eps, amsgrad=amsgrad, hparam_dtype=hparam_dtype),
        scale_by_learning_rate(learning_rate, hparam_dtype=hparam_dtype),
    )


def adamw(
    learning_rate: HyperparamLike = 1e-3,
    b1: HyperparamLike = 0.9,
    b2: HyperparamLike = 0.999,
    eps: HyperparamLike = 1e-8,
    weight_decay: HyperparamLike | None = 1e-2,
    *,
    amsgrad: bool = False,
    hparam_dtype: DTypeLike | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""AdamW: Adam with decoupled weight decay, as PyTorch's.

    .. math::
       p_t = p_{t-1} - \eta_{t-1} \left( \frac{m_t / (1 - \beta_1^t)}
             {\sqrt{v_t} / \sqrt{1 - \beta_2^t} + \epsilon} + \lambda\, p_{t-1} \right)

    The decay uses the current (scheduled) learning rate, like torch's
    ``p *= 1 - lr * weight_decay`` before its Adam step.

    Reproduce: torch ``AdamW(lr, betas=(b1, b2), eps, weight_decay, amsgrad)``;
    ``optax.adamw(lr, b1, b2, eps, weight_decay=weight_decay)`` (optax's fifth
    positional argument is ``eps_root``).

    Args:
      learning_rate: :math:`\eta`, >= 0.
      b1: :math:`\beta_1`, in [0, 1).
      b2: :math:`\beta_2`, in [0, 1).
      eps: :math:`\epsilon`, >= 0.
      weight_decay: :math:`\lambda`, >= 0 (decoupled); ``None``: plain Adam.
      amsgrad: static; AMSGrad in torch's form.
      hparam_dtype: float dtype of the hyperparameters.

    Returns:
      ``chain(scale_by_adam, add_weight_decay, scale_by_learning_rate)``.

    Example:
      >>> import jax.numpy as jnp, optax, jaxsched as js
      >>> opt = js.adamw(0.1, weight_decay=0.5)
      >>> w = jnp.array([2.0])
      >>> updates, _ = opt.update(jnp.array([1.0]), opt.init(w), w)
      >>> print(f"{optax.apply_updates(w, updates)[0]:.4f}")  # 2 - 0.1 * (1 + 1)
      1.8000

    References:
      Loshchilov and Hutter, `Decoupled Weight Decay Regularization
      <https://arxiv.org/abs/1711.05101>`_, 2019.
    """
    return _chain(
        scale_by_adam(b1, b2, eps, amsgrad=amsgrad, hparam_dtype=hparam_dtype),
        _l2(weight_decay, hparam_dtype),
        scale_by_learning_rate(learning_rate, hparam_dtype=hparam_dtype),
    )
