"""The LR range test: torch-lr-finder's and fastai's rules, one compilation."""

import functools

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import optax
import pytest

import jaxsched as js
from jaxsched import lr_finder
from tests.helpers import lr_finder_refs

matplotlib.use("Agg")


def _counting_optimizer(learning_rate):
    """Ignores gradients: the 'parameter' counts the steps taken."""
    del learning_rate
    return optax.GradientTransformation(
        lambda params: optax.EmptyState(),
        lambda updates, state, params=None: (jnp.ones_like(updates), state),
    )


def _replay(raw_losses):
    """A loss function that returns the recorded loss of each step."""
    raw = jnp.asarray(raw_losses, jnp.float32)

    def loss_fn(step, batch):
        del batch
        index = jnp.minimum(jax.lax.stop_gradient(step).astype(jnp.int32), len(raw) - 1)
        return raw[index] + 0 * step

    return loss_fn


@pytest.mark.parametrize("run", range(2))
def test_lr_find_matches_torch_lr_finder_history(run):
    ref = lr_finder_refs()["torch_lr_finder"][run]
    lrs = np.asarray(ref["history"]["lr"])
    smoothed = np.asarray(ref["history"]["loss"])
    f = ref["smooth_f"]
    # torch-lr-finder records smoothed losses: recover the raw ones it smoothed.
    raw = np.concatenate([smoothed[:1], (smoothed[1:] - (1 - f) * smoothed[:-1]) / f])
    result = js.lr_find(
        _replay(raw),
        jnp.float32(0.0),
        jnp.zeros((4, 1)),
        optimizer=_counting_optimizer,
        start_lr=ref["start_lr"],
        end_lr=ref["end_lr"],
        num_steps=ref["num_iter"],
        mode=ref["step_mode"],
        smooth=f,
        diverge_threshold=ref["diverge_th"],
    )
    n = ref["n_recorded"]
    assert int(result.stop_step) == n - 1  # the crossing step is kept
    np.testing.assert_allclose(result.lrs[:n], lrs, rtol=1e-6)
    np.testing.assert_allclose(result.smoothed[:n], smoothed, rtol=1e-5)
    np.testing.assert_allclose(result.losses[:n], raw, rtol=1e-5)
    assert np.all(np.isnan(result.lrs[n:])) and np.all(np.isnan(result.losses[n:]))
    assert result.suggestion == pytest.approx(ref["suggestion_steepest"], rel=1e-6)


NAN, INF = float("nan"), float("inf")


def _find_on(raw, **kwargs):
    """The range test on the recorded losses ``raw``, one per step, up to lr 1."""
    return js.lr_find(
        _replay(raw),
        jnp.float32(0.0),
        jnp.zeros((4, 1)),
        optimizer=_counting_optimizer,
        end_lr=1.0,
        num_steps=len(raw),
        **kwargs,
    )


@pytest.mark.parametrize(
    "raw, smooth, recorded",
    [
        # A NaN loss makes every later smoothed loss NaN; NaN never exceeds the
        # threshold, so the test runs to the end.
        ([2.0, 1.5, NAN, 1.2, 1.1], 0.5, [2.0, 1.75, NAN, NAN, NAN]),
        ([2.0, 1.0, NAN, 100.0, 100.0], 0.3, [2.0, 1.7, NAN, NAN, NAN]),
        # No smoothing: the NaN is recorded, the best loss and the stop rule survive.
        ([2.0, 1.0, NAN, 1.0, 100.0, 100.0, 100.0], 1.0, [2.0, 1.0, NAN, 1.0, 100.0]),
        ([2.0, -INF, 1.0, 1.0, 1.0], 1.0, [2.0, -INF, 1.0]),
        # A NaN first loss is the best loss and nothing compares with it: no stop.
        ([NAN, 1.0, 100.0, 100.0], 1.0, [NAN, 1.0, 100.0, 100.0]),
    ],
)
def test_lr_find_non_finite_losses_match_torch_lr_finder(raw, smooth, recorded):
    # `recorded`: torch-lr-finder 0.2.2's history["loss"] for these raw losses
    # (start_lr=1e-3, end_lr=1, diverge_th=4; its smooth_f=0 is smooth=1 here).
    result = _find_on(raw, start_lr=1e-3, smooth=smooth, diverge_threshold=4.0)
    n = len(recorded)
    assert int(result.stop_step) == n - 1
    np.testing.assert_allclose(result.smoothed[:n], recorded, rtol=1e-6)
    np.testing.assert_array_equal(result.losses[:n], np.float32(raw[:n]))
    assert np.all(np.isfinite(result.lrs[:n]))
    for field in (result.lrs, result.losses, result.smoothed):
        assert np.all(np.isnan(field[n:]))


def test_fastai_suggestions_cut_the_window_at_the_first_nan():
    # fastai 2.8.12's Learner.lr_find on this history (the smoothed loss is NaN
    # from step 25 on): it drops its window from the first NaN.
    raw = np.r_[np.linspace(3, 1, 25), np.nan, np.linspace(1, 2, 14)]
    result = _find_on(raw, start_lr=1e-6)
    expected = {
        "valley": 9.999999747378752e-05,
        "slide": 4.124626229895512e-06,
        "minimum": 0.000492388242855668,
        "steep": 0.003455107333138585,
    }
    assert int(result.stop_step) == 39
    for name, value in expected.items():
        assert result.suggestions[name] == pytest.approx(value, rel=1e-5), name


def test_steepest_skips_are_counts_and_never_wrap_around():
    lrs, losses = np.array([0.1, 0.2, 0.3, 0.4]), np.array([4.0, 3.0, 1.0, 0.5])
    assert lr_finder.steepest(lrs, losses, 0, 1) == 0.3  # gradient -1, -1.5, -2
    # skipping more points than the curve has leaves none (it used to slice
    # lrs[0:-1], as a negative end counts from the back)
    assert np.isnan(lr_finder.steepest(lrs, losses, 0, 5))
    assert np.isnan(lr_finder.steepest(lrs, losses, 9, 0))
    for skips in ((-3, 0), (0, -1), (1.5, 0)):
        with pytest.raises(ValueError, match="must be an int >= 0"):
            lr_finder.steepest(lrs, losses, *skips)


def test_fastai_suggestions_compute_in_float32_as_fastai():
    # fastai 2.8.12 runs its rules on float32 tensors of its records: on a loss
    # falling linearly in log(lr) the slopes of `steep` tie, and float64
    # arithmetic broke the tie elsewhere (recorded: fastai's steep on this curve)
    lrs = js.schedules.lr_range(2.1249774e-07, 9.0061021, 10)(np.arange(10))
    losses = jnp.asarray([3, 2.5, 2, 1.5, 1, 1, 2, 3, 4, 5], jnp.float32)
    result = js.LRFinderResult(lrs, losses, losses, jnp.asarray(9))
    assert result.suggestions["steep"] == 1.4956124232412549e-06


def test_valley_on_a_one_point_window_is_that_point():
    # fastai returns the lr of the only point (a run that stopped at step 15 of
    # 100 leaves one point in its window lrs[10:-5]).
    assert lr_finder.valley(np.array([1e-3]), np.array([1.0])) == 1e-3
    steps = np.arange(100)
    lrs = np.asarray(js.schedules.lr_range(1e-7, 10.0, 100)(steps))
    losses = np.linspace(2, 1, 100, dtype=np.float32)
    ran = steps <= 15
    result = js.LRFinderResult(
        jnp.asarray(np.where(ran, lrs, np.nan)),
        jnp.asarray(np.where(ran, losses, np.nan)),
        jnp.asarray(np.where(ran, losses, np.nan)),
        jnp.asarray(15),
    )
    assert result.suggestions["valley"] == pytest.approx(lrs[10], rel=1e-6)


def test_lr_find_records_in_the_default_float_type():
    raw = np.r_[1.0, 0.5, np.full(58, 2.0)]
    kwargs = dict(
        optimizer=_counting_optimizer,
        start_lr=1e-5,
        end_lr=1.0,
        num_steps=60,
        smooth=0.3,
    )
    result = js.lr_find(_replay(raw), jnp.float32(0.0), jnp.zeros((4, 1)), **kwargs)
    assert {result.lrs.dtype, result.losses.dtype, result.smoothed.dtype} == {
        np.dtype(np.float32)
    }
    with jax.enable_x64(True):
        result = js.lr_find(_replay(raw), jnp.float32(0.0), jnp.zeros((4, 1)), **kwargs)
    assert {result.lrs.dtype, result.losses.dtype, result.smoothed.dtype} == {
        np.dtype(np.float64)
    }
    # torch-lr-finder smooths in float64; on this converging plateau its steepest
    # descent is decided by the last bits.
    assert result.suggestion == pytest.approx(0.3769390975388361, rel=1e-9)


def test_fastai_suggestions_on_recorded_history():
    ref = lr_finder_refs()
    history = ref["fastai_style_history"]
    expected = ref["fastai_suggestions"]["values"]
    lrs, losses = np.asarray(history["lrs"]), np.asarray(history["losses"])
    window = lr_finder._fastai_window(lrs, losses, history["num_it"])
    for name in ("valley", "slide", "minimum", "steep"):
        got = getattr(lr_finder, name)(*window)
        assert got == pytest.approx(expected[name], rel=1e-6), name
    # The same through a result padded to num_it steps, as lr_find returns it.
    pad = history["num_it"] - len(lrs)
    result = js.LRFinderResult(
        jnp.asarray(np.pad(lrs, (0, pad), constant_values=np.nan)),
        jnp.asarray(np.pad(losses, (0, pad), constant_values=np.nan)),
        jnp.asarray(np.pad(losses, (0, pad), constant_values=np.nan)),
        jnp.asarray(len(lrs) - 1),
    )
    for name, value in expected.items():
        assert result.suggestions[name] == pytest.approx(value, rel=1e-5), name


def _regression():
    x = jax.random.normal(jax.random.key(0), (256, 8))
    w = jax.random.normal(jax.random.key(1), (8,))
    y = jnp.tanh(x @ w) + 0.1 * jax.random.normal(jax.random.key(2), (256,))

    def loss_fn(params, batch):
        x, y = batch
        return jnp.mean((jnp.tanh(x @ params["w"]) @ params["v"] - y) ** 2)

    params = {
        "w": 0.3 * jax.random.normal(jax.random.key(3), (8, 16)),
        "v": 0.3 * jax.random.normal(jax.random.key(4), (16,)),
    }
    return loss_fn, params, (x, y)


def test_lr_find_seed_recipe_is_one_call():
    # Start at 1e-5, multiply by (1 / 1e-5) ** (1 / 100) a step, stop when the loss
    # exceeds 4x the best or the rate passes 1: no smoothing.
    loss_fn, params, data = _regression()
    result = js.lr_find(
        loss_fn,
        params,
        data,
        start_lr=1e-5,
        end_lr=1.0,
        num_steps=101,
        smooth=1.0,
        diverge_threshold=4.0,
    )
    n = int(result.stop_step) + 1
    factor = (1 / 1e-5) ** (1 / 100)
    np.testing.assert_allclose(result.lrs[:n], 1e-5 * factor ** np.arange(n), rtol=1e-5)
    np.testing.assert_array_equal(result.smoothed[:n], result.losses[:n])
    assert float(np.nanmax(result.lrs)) <= 1.0 + 1e-6


def test_lr_find_stops_on_divergence_without_nan_parameters():
    loss_fn, params, data = _regression()
    result = js.lr_find(loss_fn, params, data, start_lr=1e-3, end_lr=1e4, num_steps=80)
    stop = int(result.stop_step)
    assert 10 < stop < 79
    smoothed = np.asarray(result.smoothed)
    assert smoothed[stop] > 4 * np.min(smoothed[: stop + 1])
    assert np.all(np.isfinite(result.losses[: stop + 1]))
    assert np.all(np.isnan(result.smoothed[stop + 1 :]))


@pytest.mark.parametrize("offset", [-10.0, 0.0, 10.0])
def test_lr_find_divergence_rule_holds_for_losses_of_any_sign(offset):
    # A negative loss (a log-likelihood, an offset) stopped the test at step 0:
    # threshold * best is below a negative best. Above 0 the rule is torch's.
    loss_fn, params, data = _regression()

    def shifted(params, batch):
        return loss_fn(params, batch) + offset

    result = js.lr_find(shifted, params, data, start_lr=1e-3, end_lr=1e4, num_steps=80)
    stop = int(result.stop_step)
    assert 10 < stop < 79
    smoothed = np.asarray(result.smoothed, np.float64)[: stop + 1]
    best = np.minimum.accumulate(smoothed)
    rises = smoothed - best > 3 * np.abs(best)  # diverge_threshold 4
    assert not rises[:-1].any() and rises[-1]


def test_steepest_never_suggests_the_nan_onset():
    lrs = np.geomspace(1e-4, 1.0, 30)
    losses = np.r_[np.linspace(3.0, 1.0, 20) ** 2, np.nan, np.full(9, np.nan)]
    finite = lr_finder.steepest(lrs[:20], losses[:20])
    assert lr_finder.steepest(lrs, losses) == finite  # cut at the first NaN
    assert np.isnan(lr_finder.steepest(lrs, np.full(30, np.nan)))
    # the cut is in the window the skips leave: a NaN they skip plays no part
    assert lr_finder.steepest(lrs[:20], np.r_[np.nan, losses[1:20]]) == finite


def test_lr_find_compiles_once_for_other_start_and_end():
    loss_fn, params, data = _regression()
    kwargs = dict(num_steps=40, optimizer=js.adam)
    js.lr_find(loss_fn, params, data, start_lr=1e-6, end_lr=1.0, **kwargs)
    js.lr_find(
        loss_fn,
        params,
        data,
        start_lr=1e-4,
        end_lr=30.0,
        smooth=0.1,
        diverge_threshold=5.0,
        **kwargs,
    )
    compiled = lr_finder._range_test(loss_fn, js.adam, 40, "exp", None, False)
    assert compiled._cache_size() == 1


def test_lr_find_minibatches_and_vmap_over_keys():
    loss_fn, params, data = _regression()
    sgd_momentum = functools.partial(js.sgd, momentum=0.9)

    def curve(key):
        return js.lr_find(
            loss_fn,
            params,
            data,
            optimizer=sgd_momentum,
            start_lr=1e-4,
            end_lr=100.0,
            num_steps=60,
            batch_size=32,
            key=key,
        )

    results = jax.vmap(curve)(jax.random.split(jax.random.key(7), 3))
    assert results.lrs.shape == (3, 60) and results.stop_step.shape == (3,)
    np.testing.assert_allclose(results.lrs[0, :10], results.lrs[1, :10])
    assert not np.allclose(results.losses[0, :10], results.losses[1, :10])
    solo = curve(jax.random.split(jax.random.key(7), 3)[1])
    np.testing.assert_allclose(results.smoothed[1], solo.smoothed, rtol=1e-5)
    assert np.asarray(results.suggestion).shape == (3,)
    assert set(results.suggestions) == {
        "steepest",
        "valley",
        "slide",
        "minimum",
        "steep",
    }
    ax = js.plot.lr_find(results)
    assert ax.get_xscale() == "log" and len(ax.collections) == 1  # the seed band
    ax = solo.plot()
    assert ax.get_lines()


def test_lr_find_works_with_optax_optimizers():
    loss_fn, params, data = _regression()
    with jax.numpy_dtype_promotion("standard"):
        result = js.lr_find(
            loss_fn,
            params,
            data,
            optimizer=optax.adam,
            start_lr=1e-5,
            end_lr=10.0,
            num_steps=50,
        )
    assert np.isfinite(result.suggestion)


@pytest.mark.parametrize(
    "kwargs, arg",
    [
        (dict(start_lr=1.0, end_lr=1.0), "start_lr"),
        (dict(start_lr=10.0, end_lr=1.0), "start_lr"),
        (dict(start_lr=0.0), "start_lr"),
        (dict(start_lr=-1e-3, mode="linear"), "start_lr"),
        (dict(end_lr=float("inf")), "end_lr"),
        (dict(num_steps=1), "num_steps"),
        (dict(num_steps=10.5), "num_steps"),
        (dict(num_steps=True), "num_steps"),
        (dict(smooth=0.0), "smooth"),
        (dict(smooth=1.5), "smooth"),
        (dict(diverge_threshold=1.0), "diverge_threshold"),
        (dict(batch_size=1000), "batch_size"),
        (dict(batch_size=0), "batch_size"),
        (dict(batch_size=2.5), "batch_size"),
        (dict(batch_size=True), "batch_size"),
        (dict(start_lr=np.array([1e-5, 1e-4])), "start_lr"),
        (dict(end_lr=[1.0, 10.0]), "end_lr"),
        (dict(smooth=np.array([0.1, 0.2])), "smooth"),
        (dict(diverge_threshold=jnp.array([2.0, 3.0])), "diverge_threshold"),
        (dict(mode="log"), "mode"),
    ],
)
def test_lr_find_bad_input_names_the_argument(kwargs, arg):
    loss_fn, params, data = _regression()
    with pytest.raises(ValueError, match=f"`{arg}"):
        js.lr_find(loss_fn, params, data, **kwargs)


@pytest.mark.parametrize(
    "data, message",
    [
        ((jnp.float32(1.0), jnp.zeros(8)), "leading example axis, got a scalar"),
        ({}, "at least one array"),
    ],
)
def test_lr_find_bad_data_is_a_clear_error(data, message):
    with pytest.raises(ValueError, match=f"`data`.*{message}"):
        js.lr_find(lambda w, batch: w**2, jnp.float32(1.0), data, num_steps=10)


def test_lr_find_non_scalar_loss_is_a_clear_error():
    loss_fn, params, data = _regression()
    with pytest.raises(ValueError, match="must return a scalar, got an array of shape"):
        js.lr_find(lambda p, b: jnp.stack([loss_fn(p, b)] * 2), params, data)


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_training_at_the_suggested_rate_reaches_90_percent_on_digits(name):
    from jaxsched import digits

    data = digits.load()
    params = digits.init_mlp(jax.random.key(0))
    _, factory = digits.OPTIMIZERS[name]
    result = js.lr_find(digits.loss, params, data.train, optimizer=factory)
    trained, losses = jax.jit(
        lambda p: digits.train(factory(result.suggestion), p, data, 200)
    )(params)
    assert float(losses[-1]) < 0.2 * float(losses[0])
    assert float(digits.accuracy(trained, data.val)) >= 0.9


def test_cli_lr_find_prints_suggestions_and_saves_plot(tmp_path, capsys):
    from jaxsched import cli

    out = tmp_path / "lr.png"
    assert (
        cli.main(
            [
                "lr-find",
                "--steps",
                "60",
                "--seeds",
                "2",
                "--train-steps",
                "100",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    rows = [
        line
        for line in printed.splitlines()
        if line.startswith("| SGD") or line.startswith("| Adam")
    ]
    assert len(rows) == 2
    assert all(float(row.split("|")[-2]) >= 0.9 for row in rows)
    assert out.stat().st_size > 10_000


def test_cli_lr_find_bad_value_is_a_clear_error(tmp_path):
    from jaxsched import cli

    with pytest.raises(SystemExit, match="`start_lr=10` must be < `end_lr=1`"):
        cli.main(
            [
                "lr-find",
                "--start-lr",
                "10",
                "--end-lr",
                "1",
                "--out",
                str(tmp_path / "x.png"),
            ]
        )


def test_lr_find_progress_bar_counts_every_step(capsys):
    loss_fn, params, data = _regression()
    result = js.lr_find(loss_fn, params, data, num_steps=30, progress=True)
    assert "30/30" in capsys.readouterr().err
    assert int(result.stop_step) == 29


def test_lr_find_checks_the_loss_on_a_batch_of_the_size_it_runs():
    # A pairwise loss needs an even batch: a 1-example probe made it fail.
    loss_fn, params, data = _regression()

    def pairwise(params, batch):
        x, y = batch
        residuals = jnp.tanh(x @ params["w"]) @ params["v"] - y
        pairs = residuals.reshape(-1, 2)
        return jnp.mean((pairs[:, 0] - pairs[:, 1]) ** 2)

    result = js.lr_find(pairwise, params, data, batch_size=8, num_steps=10)
    assert np.isfinite(result.losses[0])


def test_lr_find_unhashable_optimizer_is_a_clear_error():
    class Factory:  # an ordinary (unfrozen) dataclass is unhashable too
        __hash__ = None

        def __call__(self, learning_rate):
            return js.sgd(learning_rate)

    loss_fn, params, data = _regression()
    with pytest.raises(ValueError, match="must be hashable"):
        js.lr_find(loss_fn, params, data, optimizer=Factory(), num_steps=10)
