r"""Gradient transformations, written from scratch in ``jax.numpy``.

Each is an ``optax.GradientTransformationExtraArgs`` whose state is a NamedTuple:
``count`` (int32, saturating at :math:`2^{31} - 1`) first, then its buffers, then
``hparams``. ``update`` reads every hyperparameter from the state (evaluating
schedules at ``count``, the number of updates done so far), never from the
closure: an optimizer built with other values but the same structure can update a
state, and a batch of states is a batch of configurations.

Every numeric hyperparameter may be a number, an array, a tracer, a
:class:`~jaxsched.schedules.Schedule` or any ``step -> value`` callable. Concrete
values are validated when the transformation is built; traced ones cannot be.

Dtypes: hyperparameters are kept in JAX's default float type (or
``hparam_dtype``), never the parameters'; buffers are at least that wide (float32
moments for bf16 parameters); updates come out in the dtype they came in.

The named optimizers (:mod:`jaxsched.optimizers`) chain these; the minus sign
lives only in :func:`scale_by_learning_rate`.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.custom_derivatives import SymbolicZero
from jax.typing import DTypeLike

from jaxsched._checks import check_flag
from jaxsched._leafwise import increment, per_leaf, zero_count, zeros_like_params
from jaxsched.hparams import (
    Hyperparam,
    HyperparamLike,
    check_hparam,
    fresh,
    make_hparams,
    values_at,
)
from jaxsched.schedules import Schedule


def _dtype(hparams: dict[str, Hyperparam]) -> jnp.dtype:
    return next(iter(hparams.values())).dtype


@jax.custom_jvp
def _sqrt(x: jax.Array) -> jax.Array:
    """``sqrt(x)`` for ``x >= 0``, with a zero derivative at 0.

    ``jnp.sqrt`` has an infinite derivative at 0: a coordinate whose gradient is
    always 0 (a dead unit) would turn a hypergradient through the optimizer into
    NaN. Values are unchanged. One primitive in the program, so that a many-leaf
    update stays small to compile.
    """
    return jax.lax.sqrt(x)


@_sqrt.defjvp
def _sqrt_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    y = _sqrt(x)
    positive = x > 0
    return y, jnp.where(positive, dx / (2 * jnp.where(positive, y, 1)), 0)


class ScaleByMomentumState(NamedTuple):
    """State of :func:`scale_by_momentum`; ``started``: the buffer holds a value
    (torch's ``momentum_buffer`` is not None), false until the first step whose
    momentum is not 0 (true from the start with ``zero_init``)."""

    count: jax.Array
    trace: optax.Updates
    started: jax.Array
    hparams: dict[str, Hyperparam]


# The per-leaf rules (see ``per_leaf``) are module-level jitted functions, so that
# every instance of a transformation shares one trace per leaf shape and dtype;
# which buffers are present (None or not) selects their optional terms.


@functools.partial(jax.jit, static_argnames=("nesterov", "through_zero"))
def _momentum_rule(g, trace, *, momentum, keep, gain, nesterov, through_zero):
    b = keep * trace + gain * g
    if through_zero:  # torch leaves its buffer as it was, and steps along g
        skip = momentum == 0
        b = jnp.where(skip, trace, b)
    u = g + momentum * b if nesterov else b
    return (jnp.where(skip, g, u) if through_zero else u), {"trace": b}


def _scheduled(hparam: Hyperparam) -> bool:
    """Whether a hyperparameter is a schedule (known when tracing: a state's
    structure). A scheduled momentum may pass through 0, so its rule follows
    torch there; a number's rule keeps one pass fewer over the memory (XLA's CPU
    backend cannot read the gradient only where the momentum is 0)."""
    return isinstance(hparam, Schedule)


def scale_by_momentum(
    momentum: HyperparamLike,
    dampening: HyperparamLike = 0.0,
    *,
    nesterov: bool = False,
    zero_init: bool = False,
    hparam_dtype: DTypeLike | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""Heavy-ball momentum with dampening, as PyTorch's SGD.

    .. math::
       b_1 = g_1, \qquad b_t = \mu\, b_{t-1} + (1 - \tau)\, g_t, \qquad
       u_t = \begin{cases} g_t + \mu\, b_t & \text{nesterov} \\ b_t \end{cases}

    with :math:`\mu` = ``momentum`` and :math:`\tau` = ``dampening``. PyTorch
    starts the buffer at the first gradient (no dampening on step 1). With
    ``zero_init=True`` the buffer starts at zero, :math:`b_1 = (1 - \tau) g_1`:
    with ``dampening = momentum = β`` this is the exponentially weighted average
    of the tutorials, :math:`s_t = β s_{t-1} + (1 - β) g_t`
    (``optax.ema(β, debias=False)``), which differs from torch's buffer by
    :math:`β^t g_1`.

    While the momentum is 0 the update is :math:`g_t` (dampening has no effect),
    as in torch. A momentum given as a schedule follows torch through 0: the
    buffer is left as it was while the momentum is 0, and starts at :math:`g_t`
    at the first step with a momentum other than 0. A number keeps the buffer
    equal to :math:`g_t` while it is 0 (one pass fewer over the memory every
    step): only a number set from a value to 0 and back mid-run (``set_hparams``)
    then resumes from that buffer, where torch resumes from its old one.

    Reproduce: torch ``SGD(momentum=μ, dampening=τ, nesterov=...)`` without its
    learning rate; ``optax.trace(decay=μ, nesterov=...)`` when :math:`\tau = 0`.

    Args:
      momentum: :math:`\mu`, in [0, 1).
      dampening: :math:`\tau`, in [0, 1); no effect while the momentum is 0
        (as torch).
      nesterov: static; Nesterov's lookahead (needs ``momentum > 0`` and
        ``dampening = 0``, as in torch).
      zero_init: static; start the buffer at zero (the EMA form).
      hparam_dtype: float dtype of the hyperparameters (default: JAX's default).

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    Example:
      >>> import jax.numpy as jnp, jaxsched as js
      >>> t = js.scale_by_momentum(0.9)
      >>> state = t.init(jnp.zeros(1))
      >>> for g in (1.0, 1.0):
      ...     u, state = t.update(jnp.array([g]), state)
      ...     print(f"{u[0]:.2f}")
      1.00
      1.90

    References:
      Polyak, Some methods of speeding up the convergence of iteration methods,
      1964; Sutskever et al., `On the importance of initialization and momentum
      in deep learning <https://proceedings.mlr.press/v28/sutskever13.html>`_, 2013.
    """
    nesterov = check_flag("nesterov", nesterov)
    zero_init = check_flag("zero_init", zero_init)
    if nesterov:
        check_hparam("momentum", momentum, lambda m: m > 0, "> 0 with `nesterov=True`")
        check_hparam("dampening", dampening, lambda d: d == 0, "0 with `nesterov=True`")
    hparams = make_hparams(hparam_dtype, momentum=momentum, dampening=dampening)

    def init(params):
        trace = zeros_like_params(params, _dtype(hparams))
        started = jnp.asarray(zero_init)
        return ScaleByMomentumState(zero_count(), trace, started, fresh(hparams))

    def update(updates, state, params=None, **extra_args):
        del params, extra_args
        rule = functools.partial(
            _momentum_rule,
            nesterov=nesterov,
            through_zero=_scheduled(state.hparams["momentum"]),
        )
        hp = values_at(state.hparams, state.count)
        # torch starts its buffer at b = g and steps along g (undamped) while
        # the momentum is 0: only the factors change, scalars computed once.
        momentum = hp["momentum"]
        scalars = {
            "momentum": momentum,
            "keep": jnp.where(state.started, momentum, 0),
            "gain": jnp.where(state.started & (momentum != 0), 1 - hp["dampening"], 1),
        }
        updates, buffers = per_leaf(rule, scalars, updates, trace=state.trace)
        return updates, state._replace(
            count=increment(state.count),
            started=state.started | (momentum != 0),
            **buffers,
        )

    return optax.GradientTransformationExtraArgs(init, update)


class ScaleByAdagradState(NamedTuple):
    """State of :func:`scale_by_adagrad`: the sum of squared gradients so far."""

    count: jax.Array
    sum_of_squares: optax.Updates
    hparams: dict[str, Hyperparam]


@jax.jit
def _adagrad_rule(g, sum_of_squares, *, initial_accumulator_value, eps, decayed):
    s = sum_of_squares + g * g
    u = (decayed * g) / (_sqrt(initial_accumulator_value + s) + eps)
    return u, {"sum_of_squares": s}


def scale_by_adagrad(
    initial_accumulator_value: HyperparamLike = 0.0,
    eps: HyperparamLike = 1e-10,
    lr_decay: HyperparamLike = 0.0,
    *,
    hparam_dtype: DTypeLike | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""Adagrad's per-coordinate scaling, as PyTorch's (eps outside the root).

    .. math::
       s_t = a_0 + \sum_{i \le t} g_i^2, \qquad
       u_t = \frac{1}{1 + (t - 1)\, \delta} \cdot \frac{g_t}{\sqrt{s_t} + \epsilon}

    with :math:`a_0` = ``initial_accumulator_value`` and :math:`\delta` =
    ``lr_decay`` (torch divides its learning rate by :math:`1 + (t-1)\delta`; the
    factor is the same here). The state keeps :math:`\sum g_i^2` and adds
    :math:`a_0` at each update, so :math:`a_0` stays a live hyperparameter.

    Reproduce: torch ``Adagrad(lr_decay, initial_accumulator_value, eps)`` without
    its learning rate. ``optax.scale_by_rss(initial_accumulator_value, eps)`` puts
    eps *inside* the root, :math:`g / \sqrt{s_t + \epsilon}`: the two agree when
    eps is negligible next to :math:`s_t` (``optax.adagrad`` also defaults to
    :math:`a_0 = 0.1`, eps = 1e-7).

    Args:
      initial_accumulator_value: :math:`a_0`, >= 0.
      eps: :math:`\epsilon`, >= 0.
      lr_decay: :math:`\delta`, >= 0.
      hparam_dtype: float dtype of the hyperparameters.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    Example:
      >>> import jax.numpy as jnp, jaxsched as js
      >>> t = js.scale_by_adagrad()
      >>> state = t.init(jnp.zeros(1))
      >>> for g in (3.0, 4.0):
      ...     u, state = t.update(jnp.array([g]), state)
      ...     print(f"{u[0]:.2f}")
      1.00
      0.80

    References:
      Duchi et al., `Adaptive Subgradient Methods for Online Learning and
      Stochastic Optimization <https://jmlr.org/papers/v12/duchi11a.html>`_, 2011.
    """
    hparams = make_hparams(
        hparam_dtype,
        initial_accumulator_value=initial_accumulator_value,
        eps=eps,
        lr_decay=lr_decay,
    )

    def init(params):
        sums = zeros_like_params(params, _dtype(hparams))
        return ScaleByAdagradState(zero_count(), sums, fresh(hparams))

    def update(updates, state, params=None, **extra_args):
        del params, extra_args
        hp = values_at(state.hparams, state.count)
        lr_decay = hp.pop("lr_decay")
        decayed = 1 / (1 + state.count.astype(lr_decay.dtype) * lr_decay)  # t - 1
        updates, buffers = per_leaf(
            _adagrad_rule,
            hp | {"decayed": decayed},
            updates,
            sum_of_squares=state.sum_of_squares,
        )
        return updates, state._replace(count=increment(state.count), **buffers)

    return optax.GradientTransformationExtraArgs(init, update)


class ScaleByRmspropState(NamedTuple):
    """State of :func:`scale_by_rmsprop`."""

    count: jax.Array
    nu: optax.Updates
    mu: optax.Updates | None
    trace: optax.Updates | None
    hparams: dict[str, Hyperparam]


@functools.partial(jax.jit, static_argnames="through_zero")
def _rmsprop_rule(
    g,
    nu,
    mu=None,
    trace=None,
    *,
    decay,
    one_minus_decay,
    eps,
    momentum=None,
    through_zero=False,
):
    """``mu`` (the mean gradient) only when centered, ``trace`` and ``momentum``
    only with momentum; ``through_zero``: a scheduled momentum (see
    :func:`_scheduled`)."""
    v = decay * nu + one_minus_decay * g * g
    new = {"nu": v}
    if mu is not None:
        new["mu"] = g_avg = decay * mu + one_minus_decay * g
        v = v - g_avg * g_avg
        v = jnp.where(v > 0, v, 0)  # not below 0 (or NaN) by rounding
    # -(-g / s) is g / s bit for bit (negation is exact). Written so, the gradient
    # (with its L2 term) enters this kernel through a negation, not a division, and
    # XLA's CPU fusion recomputes g + wd p here instead of writing it to a
    # temporary (fresh memory each step): 48 bytes per parameter, not 52, for the
    # defaults, and 2.6x faster on a 16M leaf (README, "One optimizer update").
    u = -(-g / (_sqrt(v) + eps))
    if trace is not None:
        b = momentum * trace + u
        if through_zero:  # torch leaves its buffer as it was, and steps along u
            skip = momentum <= 0
            b, u = jnp.where(skip, trace, b), jnp.where(skip, u, b)
        else:
            u = b
        new["trace"] = b
    return u, new


def scale_by_rmsprop(
    decay: HyperparamLike = 0.99,
    eps: HyperparamLike = 1e-8,
    momentum: HyperparamLike | None = 0.0,
    *,
    centered: bool = False,
    hparam_dtype: DTypeLike | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""RMSprop's scaling, with PyTorch's momentum and centering (eps outside).

    .. math::
       v_t = \rho\, v_{t-1} + (1 - \rho)\, g_t^2, \qquad
       \bar g_t = \rho\, \bar g_{t-1} + (1 - \rho)\, g_t \ \text{(centered)}

    .. math::
       d_t = \sqrt{v_t - \bar g_t^2} + \epsilon \ \text{(centered, else }
             \sqrt{v_t} + \epsilon\text{)}, \qquad
       b_t = \mu\, b_{t-1} + g_t / d_t, \qquad u_t = b_t

    with :math:`\rho` = ``decay`` (torch's ``alpha``) and :math:`\mu` =
    ``momentum``; the learning rate multiplies :math:`b_t` afterwards, as in torch.

    Reproduce: torch ``RMSprop(alpha=decay, eps, momentum, centered)`` without its
    learning rate. ``optax.rmsprop(lr, decay, eps, eps_in_sqrt=False,
    centered=...)`` equals ``js.rmsprop`` with a constant learning rate; optax
    scales by the learning rate *before* its momentum, so under a schedule the
    two differ (torch and jaxsched apply the current rate to the whole buffer).
    In float32 hyperparameters (the default) :math:`1 - \rho` is that of
    :math:`\rho` rounded to float32, where torch takes ``1 - alpha`` of the Python
    float: the factor differs by 9e-7 (relative) at ``decay=0.99``, 1.3e-5 at
    0.999 (half that in the update); under x64 (float64 hyperparameters) they
    agree.

    Args:
      decay: :math:`\rho`, in [0, 1).
      eps: :math:`\epsilon`, >= 0.
      momentum: :math:`\mu`, in [0, 1). A number keeps a buffer, so the value
        can be swept or replaced later; while it is 0 the update is
        :math:`g_t / d_t`, as in torch, and the buffer holds that (torch leaves
        its buffer as it was, and so does a momentum given as a schedule; see
        :func:`scale_by_momentum`); ``None``
        (static) has no buffer and no ``momentum`` hyperparameter: torch's
        momentum-free RMSprop, two floats per parameter less traffic.
      centered: static; divide by the estimated standard deviation instead.
        The variance estimate is kept at 0 or above (rounding can take
        :math:`v_t - \bar g_t^2` below 0); where it is 0 (``decay=0``:
        :math:`v_t = g_t^2 = \bar g_t^2`), the step is :math:`g_t / \epsilon`,
        as exact arithmetic gives (torch's CPU kernel, which subtracts with a
        fused multiply-add, can get a tiny negative variance there, and NaN).
      hparam_dtype: float dtype of the hyperparameters.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    Example:
      >>> import jax.numpy as jnp, jaxsched as js
      >>> t = js.scale_by_rmsprop(decay=0.9)
      >>> state = t.init(jnp.zeros(1))
      >>> u, state = t.update(jnp.array([1.0]), state)
      >>> print(f"{u[0]:.4f}")
      3.1623

    References:
      Tieleman and Hinton, Lecture 6.5 - RMSprop, COURSERA: Neural Networks for
      Machine Learning, 2012; Graves, `Generating Sequences With Recurrent Neural
      Networks <https://arxiv.org/abs/1308.0850>`_, 2013 (centered).
    """
    centered = check_flag("centered", centered)
    with_momentum = momentum is not None
    hparams = make_hparams(
        hparam_dtype,
        decay=decay,
        eps=eps,
        **({"momentum": momentum} if with_momentum else {}),
    )

    def init(params):
        def zeros(present=True):
            return zeros_like_params(params, _dtype(hparams)) if present else None

        return ScaleByRmspropState(
            zero_count(), zeros(), zeros(centered), zeros(with_momentum), fresh(hparams)
        )

    def update(updates, state, params=None, **extra_args):
        del params, extra_args
        hp = values_at(state.hparams, state.count)
        scalars = hp | {"one_minus_decay": 1 - hp["decay"]}  # once, not per leaf
        rule = _rmsprop_rule
        if with_momentum:
            rule = functools.partial(
                rule, through_zero=_scheduled(state.hparams["momentum"])
            )
        updates, buffers = per_leaf(
            rule,
            scalars,
            updates,
            nu=state.nu,
            mu=state.mu,
            trace=state.trace,
        )
        return updates, state._replace(count=increment(state.count), **buffers)

    return optax.GradientTransformationExtraArgs(init, update)


def _one_minus_power(beta: jax.Array, t: jax.Array) -> jax.Array:
    r"""The bias correction :math:`1 - \beta^t`, accurate for :math:`\beta` near 1.

    Written as :math:`-\operatorname{expm1}(t \log \beta)`: ``1 - beta ** t``
    cancels catastrophically (float32, beta = 0.999, t = 1: a relative error of
    7e-6, in optax too); this form stays within a few ulps. Computed once per
    update, not per element. At :math:`\beta = 0` it is ``1 - beta ** t``, whose
    derivative is finite there (the logarithm's is not).
    """
    t = t.astype(beta.dtype)
    positive = beta > 0
    safe_beta = jnp.where(positive, beta, 1)
    return jnp.where(positive, -jnp.expm1(t * jnp.log(safe_beta)), 1 - beta**t)


class ScaleByAdamState(NamedTuple):
    """State of :func:`scale_by_adam`; ``nu_max`` only with ``amsgrad``."""

    count: jax.Array
    mu: optax.Updates
    nu: optax.Updates
    nu_max: optax.Updates | None
    hparams: dict[str, Hyperparam]


@jax.jit
def _adam_rule(
    g,
    mu,
    nu,
    nu_max=None,
    *,
    b1,
    b2,
    eps,
    one_minus_b1,
    one_minus_b2,
    correction1,
    sqrt_correction2,
):
    """``nu_max`` (the running maximum of ``nu``) only with AMSGrad. The root is
    taken before the bias correction (see ``scale_by_adam``)."""
    m = one_minus_b1 * g + b1 * mu
    v = one_minus_b2 * g * g + b2 * nu
    amsgrad = nu_max is not None
    v_hat = jnp.maximum(nu_max, v) if amsgrad else v
    u = (m / correction1) / (_sqrt(v_hat) / sqrt_correction2 + eps)
    return u, {"mu": m, "nu": v} | ({"nu_max": v_hat} if amsgrad else {})


def scale_by_adam(
    b1: HyperparamLike = 0.9,
    b2: HyperparamLike = 0.999,
    eps: HyperparamLike = 1e-8,
    *,
    amsgrad: bool = False,
    hparam_dtype: DTypeLike | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""Adam's scaling with bias correction, and PyTorch's AMSGrad.

    .. math::
       m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t, \qquad
       v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2

    .. math::
       u_t = \frac{m_t / (1 - \beta_1^t)}
                  {\sqrt{\hat v_t} / \sqrt{1 - \beta_2^t} + \epsilon}, \qquad
       \hat v_t = \begin{cases} \max(\hat v_{t-1}, v_t) & \text{amsgrad} \\
                  v_t \end{cases}

    The root is taken before the bias correction, as in torch: every gradient
    whose :math:`v_t` is finite steps (in float32 with :math:`\beta_2 = 0.999`, up
    to about 5.8e20), where :math:`v_t / (1 - \beta_2^t)` overflows from 1.8e19.
    AMSGrad as in torch: the running maximum of the *raw* second moment,
    bias-corrected after the maximum. ``optax.scale_by_amsgrad`` takes the
    maximum of the bias-corrected moment instead, which differs early on.

    Reproduce: ``optax.scale_by_adam(b1, b2, eps)``; torch
    ``Adam(betas=(b1, b2), eps, amsgrad)`` without its learning rate.

    Args:
      b1: :math:`\beta_1`, in [0, 1).
      b2: :math:`\beta_2`, in [0, 1).
      eps: :math:`\epsilon`, >= 0, added outside the square root.
      amsgrad: static; keep the running maximum of :math:`v_t`.
      hparam_dtype: float dtype of the hyperparameters.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    Example:
      >>> import jax.numpy as jnp, jaxsched as js
      >>> t = js.scale_by_adam()
      >>> state = t.init(jnp.zeros(1))
      >>> u, state = t.update(jnp.array([-0.3]), state)
      >>> print(f"{u[0]:.4f}")  # the first step is sign(g), whatever its size
      -1.0000

    References:
      Kingma and Ba, `Adam: A Method for Stochastic Optimization
      <https://arxiv.org/abs/1412.6980>`_, 2015; Reddi et al., `On the Convergence
      of Adam and Beyond <https://openreview.net/forum?id=ryQu7f-RZ>`_, 2018.
    """
    amsgrad = check_flag("amsgrad", amsgrad)
    hparams = make_hparams(hparam_dtype, b1=b1, b2=b2, eps=eps)

    def init(params):
        dtype = _dtype(hparams)
        nu_max = zeros_like_params(params, dtype) if amsgrad else None
        return ScaleByAdamState(
            zero_count(),
            zeros_like_params(params, dtype),
            zeros_like_params(params, dtype),
            nu_max,
            fresh(hparams),
        )

    def update(updates, state, params=None, **extra_args):
        del params, extra_args
        t = increment(state.count)
        hp = values_at(state.hparams, state.count)
        derived = {  # scalars computed once per update, not per leaf
            "one_minus_b1": 1 - hp["b1"],
            "one_minus_b2": 1 - hp["b2"],
            "correction1": _one_minus_power(hp["b1"], t),
            "sqrt_correction2": jnp.sqrt(_one_minus_power(hp["b2"], t)),
        }
        updates, buffers = per_leaf(
            _adam_rule,
            hp | derived,
            updates,
            mu=state.mu,
            nu=state.nu,
            nu_max=state.nu_max,
        )
        return updates, state._replace(count=t, **buffers)

    return optax.GradientTransformationExtraArgs(init, update)


class AddWeightDecayState(NamedTuple):
    """State of :func:`add_weight_decay`."""

    count: jax.Array
    hparams: dict[str, Hyperparam]


@jax.custom_jvp
def _plus_decay(g, params, weight_decay):
    r""":math:`g + \lambda p`, or ``g`` where :math:`\lambda = 0` (torch's ``if
    weight_decay != 0``): an infinite parameter then gives no NaN, and where XLA
    knows the value is 0 (a state made inside the compiled function, as in a sweep)
    it leaves the parameters unread. Its derivative is that of
    :math:`g + \lambda p` everywhere, 0 included (``jax.grad`` by the weight decay);
    a tangent known to be zero adds no term (0 times an infinite parameter is NaN).
    """
    return g + jnp.where(weight_decay != 0, weight_decay * params, 0)


def _plus_decay_jvp(primals, tangents):
    g, params, weight_decay = primals
    dg, dparams, dweight_decay = tangents
    out = _plus_decay(g, params, weight_decay)
    tangent = jnp.zeros_like(out)
    if not isinstance(dg, SymbolicZero):
        tangent += dg
    if not isinstance(dparams, SymbolicZero):
        tangent += weight_decay * dparams
    if not isinstance(dweight_decay, SymbolicZero):
        tangent += dweight_decay * params
    return out, tangent


_plus_decay.defjvp(_plus_decay_jvp, symbolic_zeros=True)


@jax.jit
def _weight_decay_rule(g, params, *, weight_decay):
    return _plus_decay(g, params, weight_decay), {}


def add_weight_decay(
    weight_decay: HyperparamLike, *, hparam_dtype: DTypeLike | None = None
) -> optax.GradientTransformationExtraArgs:
    r"""Adds :math:`\lambda\, p` to the updates.

    .. math:: u_t = g_t + \lambda\, p_{t-1}

    Where it sits in a chain decides what it means. Before the scaler it is an L2
    penalty folded into the gradient (torch's ``weight_decay`` of SGD, Adagrad,
    RMSprop and Adam); after the scaler and before
    :func:`scale_by_learning_rate` it is decoupled weight decay (AdamW,
    :math:`p \leftarrow p - \eta(u + \lambda p)`, with the current scheduled
    :math:`\eta`). At :math:`\lambda = 0` the term is skipped, as torch's ``if
    weight_decay != 0`` (an infinite parameter gives no NaN; where XLA knows the
    0, the parameters are not even read). Reproduce:
    ``optax.add_decayed_weights(weight_decay)``.

    Args:
      weight_decay: :math:`\lambda`, >= 0.
      hparam_dtype: float dtype of the hyperparameters.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose ``update`` needs
      ``params``.

    Example:
      >>> import jax.numpy as jnp, jaxsched as js
      >>> t = js.add_weight_decay(0.1)
      >>> u, _ = t.update(jnp.array([1.0]), t.init(jnp.zeros(1)), jnp.array([2.0]))
      >>> print(f"{u[0]:.2f}")
      1.20

    References:
      Loshchilov and Hutter, `Decoupled Weight Decay Regularization
      <https://arxiv.org/abs/1711.05101>`_, 2019.
    """
    hparams = make_hparams(hparam_dtype, weight_decay=weight_decay)

    def init(params):
        del params
        return AddWeightDecayState(zero_count(), fresh(hparams))

    def update(updates, state, params=None, **extra_args):
        del extra_args
        if params is None:
            raise ValueError(
                "The weight decay term (`add_weight_decay`; an optimizer's "
                "`weight_decay`, 0.0 included) needs `params`: pass them, "
                "`update(grads, state, params)`, or build the optimizer with "
                "`weight_decay=None` to leave the term out."
            )
        hp = values_at(state.hparams, state.count)
        updates, _ = per_leaf(_weight_decay_rule, hp, updates, params=params)
        return updates, state._replace(count=increment(state.count))

    return optax.GradientTransformationExtraArgs(init, update)


class ScaleByLearningRateState(NamedTuple):
    """State of :func:`scale_by_learning_rate`."""

    count: jax.Array
    hparams: dict[str, Hyperparam]


@jax.jit
def _learning_rate_rule(g, *, minus_learning_rate):
    return minus_learning_rate * g, {}


def scale_by_learning_rate(
    learning_rate: HyperparamLike, *, hparam_dtype: DTypeLike | None = None
) -> optax.GradientTransformationExtraArgs:
    r"""Multiplies by minus the learning rate: the descent step.

    .. math:: u_t = -\eta_{t-1}\, g_t

    where :math:`\eta_k` is the learning rate at step :math:`k` (a number, or a
    schedule evaluated at the number of updates done so far).

    Reproduce: ``optax.scale_by_learning_rate(learning_rate)``.

    Args:
      learning_rate: :math:`\eta`, >= 0; number, array, tracer or schedule.
      hparam_dtype: float dtype of the hyperparameters.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    Example:
      >>> import jax.numpy as jnp, jaxsched as js
      >>> t = js.scale_by_learning_rate(js.schedules.step_decay(0.1, 1, 0.5))
      >>> state = t.init(jnp.zeros(1))
      >>> for _ in range(3):
      ...     u, state = t.update(jnp.array([1.0]), state)
      ...     print(f"{u[0]:.3f}")
      -0.100
      -0.050
      -0.025
    """
    hparams = make_hparams(hparam_dtype, learning_rate=learning_rate)

    def init(params):
        del params
        return ScaleByLearningRateState(zero_count(), fresh(hparams))

    def update(updates, state, params=None, **extra_args):
        del params, extra_args
        minus_lr = -values_at(state.hparams, state.count)["learning_rate"]
        updates, _ = per_leaf(
            _learning_rate_rule, {"minus_learning_rate": minus_lr}, updates
        )
        return updates, state._replace(count=increment(state.count))

    return optax.GradientTransformationExtraArgs(init, update)
