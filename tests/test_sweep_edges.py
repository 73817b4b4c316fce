"""js.sweep at its edges: bfloat16, static axes, what train_fn returns, validation,
checkpoints."""

import dataclasses
import functools
import pathlib
import subprocess
import sys
from typing import NamedTuple

import jax
import jax.numpy as jnp
import matplotlib
import ml_dtypes
import numpy as np
import pytest

import jaxsched as js
from jaxsched import _chunking

matplotlib.use("Agg")
ROOT = pathlib.Path(__file__).parents[1]
GRID = {"lr": np.array([0.1, 0.2, 0.3], np.float32)}


def _loss(hp, key):
    return {"loss": hp["lr"]}


def _sweep(train, hparams=GRID, **kwargs):
    return js.sweep(train, hparams, chunk_size=2, progress=False, **kwargs)


def _bf16_loss(hp, key):
    return {"loss": hp["lr"].astype(jnp.bfloat16)}


def test_sweep_bfloat16_axis_with_auto_chunks():
    grid = {"lr": np.array([0.5, 0.25], ml_dtypes.bfloat16)}
    result = js.sweep(
        lambda hp, k: {"loss": hp["lr"] * 2}, grid, chunk_size="auto", progress=False
    )
    assert result.hparams["lr"].dtype == ml_dtypes.bfloat16
    assert result.metrics["loss"].dtype == ml_dtypes.bfloat16
    assert result.metrics["loss"][:, 0].astype(np.float32).tolist() == [1.0, 0.5]


def test_sweep_resumes_a_checkpoint_of_bfloat16_metrics(tmp_path):
    first = _sweep(_bf16_loss, checkpoint_dir=tmp_path)
    again = _sweep(_bf16_loss, checkpoint_dir=tmp_path)
    assert again.stats["chunks_loaded"] == 2 and again.stats["chunks_computed"] == 0
    assert again.metrics["loss"].dtype == ml_dtypes.bfloat16
    np.testing.assert_array_equal(again.metrics["loss"], first.metrics["loss"])
    assert not again.diverged.any()


def test_sweep_result_save_load_keeps_bfloat16(tmp_path):
    grid = {"lr": np.array([0.5, 0.25, 1.0], ml_dtypes.bfloat16)}
    result = _sweep(lambda hp, k: {"loss": hp["lr"]}, grid)
    result.save(tmp_path / "result")
    loaded = js.SweepResult.load(tmp_path / "result")
    for before, after in [
        (result.hparams["lr"], loaded.hparams["lr"]),
        (result.metrics["loss"], loaded.metrics["loss"]),
    ]:
        assert after.dtype == before.dtype == ml_dtypes.bfloat16
        np.testing.assert_array_equal(after, before)
    assert loaded.best("loss") == {"lr": 0.25, "loss": 0.25, "index": 1}


def test_sweep_counts_refuse_bools():
    with pytest.raises(ValueError, match="`seeds=True` must be a positive int"):
        _sweep(_loss, seeds=True)
    with pytest.raises(ValueError, match="`chunk_size=True` must be a positive int"):
        js.sweep(_loss, GRID, chunk_size=True, progress=False)
    with pytest.raises(ValueError, match="`n=True` must be a positive int"):
        js.random_search(jax.random.key(0), True, lr=js.uniform(0.0, 1.0))


def test_random_search_refuses_infinite_bounds_and_counts_jax_cannot_hold():
    for distribution in (js.uniform, js.log_uniform):
        with pytest.raises(ValueError, match="`hi=inf`"):
            distribution(1e-3, np.inf)
    with pytest.raises(ValueError, match="`lo=-inf`"):
        js.uniform(-np.inf, 0.0)
    with pytest.raises(ValueError, match="`hi - lo` overflows float64"):
        js.uniform(-1e308, 1e308)
    wide = js.uniform(np.float32(-3e38), np.float32(3e38)).sample(jax.random.key(0), 5)
    assert np.all(np.isfinite(wide)) and np.all(np.abs(wide) <= 3e38)
    with pytest.raises(ValueError, match=r"`n=1099511627776` is out of range"):
        js.random_search(jax.random.key(0), 2**40, lr=js.uniform(0.0, 1.0))


def test_sweep_result_save_load_keeps_static_values(tmp_path):
    static = {"h": [(64,), (128, (2, "x")), None], "flag": [True, False], "s": ["a"]}
    result = _sweep(_loss, static=static)
    result.save(tmp_path / "result")
    loaded = js.SweepResult.load(tmp_path / "result")
    for name in static:
        assert loaded.hparams[name].shape == result.hparams[name].shape
        assert loaded.hparams[name].tolist() == result.hparams[name].tolist()
    assert loaded.best("loss") == result.best("loss")
    # Values JSON cannot hold (functions) are saved as their str (no pickle).
    fns = _sweep(lambda hp, k: {"loss": hp["f"](hp["lr"])}, static={"f": [jnp.sin]})
    fns.save(tmp_path / "fns")
    assert js.SweepResult.load(tmp_path / "fns").hparams["f"][0] == str(jnp.sin)


def test_best_returns_static_values_that_numpy_cannot_hold():
    result = _sweep(_loss, static={"h": [None, 3]})
    assert result.best("loss")["h"] is None
    result = _sweep(
        lambda hp, k: {"loss": hp["act"](hp["lr"])}, static={"act": [jnp.tanh, jnp.sin]}
    )
    assert result.best("loss", "max")["act"] is jnp.sin  # sin(x) > tanh(x) > 0
    assert "| 1 |" in result.table("loss")


def test_sweep_static_tuples_are_one_value_per_configuration():
    def train(hp, key):
        return {"loss": hp["lr"] * sum(hp["h"])}

    result = _sweep(train, static={"h": [(4, 4), (8, 8)]})
    assert result.hparams["h"].shape == (6,)
    assert result.hparams["h"].tolist() == [(4, 4)] * 3 + [(8, 8)] * 3
    assert result.best("loss")["h"] == (4, 4)
    ragged = _sweep(train, static={"h": [(4,), (8, 8)]})
    assert ragged.hparams["h"].tolist() == [(4,)] * 3 + [(8, 8)] * 3
    np.testing.assert_allclose(ragged.metrics["loss"][3:, 0], GRID["lr"] * 16)


def test_sweep_rejects_bad_static_axes_before_running():
    calls = []

    def train(hp, key):
        calls.append(1)
        return {"loss": hp["lr"]}

    with pytest.raises(ValueError, match=r"Static axis `h` holds \[8\], which is not"):
        _sweep(train, static={"h": [(4,), [8]]})
    with pytest.raises(ValueError, match="Static axis `opt` is a string"):
        _sweep(train, static={"opt": "adam"})
    with pytest.raises(ValueError, match="Static axis `n` must be a list"):
        _sweep(train, static={"n": 3})
    assert not calls


def test_sweep_static_numpy_values_reach_train_fn_as_python_objects():
    seen = []

    def train(hp, key):
        seen.append((type(hp["s"]), type(hp["b"])))
        return {"loss": hp["lr"]}

    result = _sweep(train, static={"s": np.array([1.0, 2.0]), "b": [np.bool_(True)]})
    assert set(seen) == {(float, bool)}
    assert result.best("loss")["s"] == 1.0


def test_sweep_static_values_equal_but_of_different_types_compile_apart():
    def train(hp, key):
        return {"is_true": hp["lr"] * 0 + float(hp["x"] is True), "loss": hp["lr"]}

    result = _sweep(train, static={"x": [1, True, 1.0]})
    assert result.metrics["is_true"][:, 0].tolist() == [0] * 3 + [1] * 3 + [0] * 3
    assert [type(v) for v in result.hparams["x"][::3]] == [int, bool, float]


class _Metrics(NamedTuple):
    loss: jax.Array
    curve: jax.Array


def test_sweep_train_fn_may_return_any_pytree_of_arrays():
    def named(hp, k):
        return _Metrics(hp["lr"], jnp.stack([hp["lr"], 2 * hp["lr"]]))

    assert sorted(_sweep(named).metrics) == ["curve", "loss"]
    assert sorted(_sweep(lambda hp, k: (hp["lr"], 2 * hp["lr"])).metrics) == ["0", "1"]
    nested = _sweep(lambda hp, k: {"a": [hp["lr"], {"b": 1.0}]})
    assert sorted(nested.metrics) == ["a/0", "a/1/b"]
    assert nested.metrics["a/1/b"].shape == (3, 1)
    single = _sweep(lambda hp, k: hp["lr"])
    assert list(single.metrics) == ["metric"] and single.best("metric")["index"] == 0


def test_sweep_train_fn_returning_no_arrays_is_a_clear_error():
    for returned in [None, {}, {"a": None}]:
        with pytest.raises(ValueError, match="`train_fn` returned no metrics"):
            _sweep(lambda hp, k, returned=returned: returned)
    with pytest.raises(ValueError, match="metric `a/name` is a str"):
        _sweep(lambda hp, k: {"a": {"name": "adam"}, "loss": hp["lr"]})


def test_sweep_lets_errors_raised_inside_train_fn_through():
    with pytest.raises(TypeError, match="dot_general requires contracting"):
        _sweep(lambda hp, k: {"a": jnp.ones(3) @ jnp.ones(4)})


def test_sweep_string_axis_points_to_static():
    grid = GRID | {"opt": np.array(["adam", "sgd", "sgd"])}
    with pytest.raises(ValueError, match=r"Axis `opt` holds strings.*`static="):
        _sweep(_loss, grid)


@pytest.mark.skipif(jax.config.jax_enable_x64, reason="64-bit values fit under x64")
def test_sweep_axis_values_must_fit_the_dtype_jax_uses():
    with pytest.raises(ValueError, match=r"Axis `n` holds 8589934592.*int32"):
        _sweep(lambda hp, k: {"v": hp["n"] * 1}, {"n": np.array([2**33, 5])})
    with pytest.raises(ValueError, match=r"Axis `w` holds 1e\+300.*float32"):
        _sweep(lambda hp, k: {"v": hp["w"]}, {"w": np.array([1e300, 1.0])})
    fits = {"n": np.array([2**31 - 1, -(2**31)]), "w": np.array([np.inf, 1.0])}
    result = _sweep(lambda hp, k: {"v": hp["n"] * 1, "w": hp["w"]}, fits)
    assert result.metrics["v"][:, 0].tolist() == [2**31 - 1, -(2**31)]


def test_sweep_result_table_checks_mode_and_top():
    result = _sweep(_loss)
    with pytest.raises(ValueError, match="`mode='mn'` is not one of"):
        result.table("loss", mode="mn")
    for top in [0, -1, 1.5, True]:
        with pytest.raises(ValueError, match=f"`top={top}` must be a positive int"):
            result.table("loss", top=top)
    assert (
        result.table("loss", top=1, mode="max")
        .splitlines()[2]
        .startswith("| 1 | 0.3 |")
    )


def test_plot_sweep_checks_mode():
    result = _sweep(_loss)
    with pytest.raises(ValueError, match="`mode='maximum'` is not one of"):
        js.plot.sweep(result, x="lr", metric="loss", mode="maximum")


def test_int_uniform_needs_int_bounds_and_includes_the_largest_int32():
    for lo, hi in [(0.5, 2.5), (0, 2.0), (False, True)]:
        with pytest.raises(ValueError, match="must be an int"):
            js.int_uniform(lo, hi)
    top = 2**31 - 1
    draws = js.random_search(jax.random.key(0), 64, m=js.int_uniform(top - 1, top))
    assert set(draws["m"].tolist()) == {top - 1, top}
    wide = js.random_search(jax.random.key(0), 64, m=js.int_uniform(0, top))["m"]
    assert wide.min() >= 0 and len(set(wide.tolist())) == 64


@pytest.mark.skipif(jax.config.jax_enable_x64, reason="int64 bounds fit under x64")
def test_int_uniform_bounds_must_fit_int32():
    with pytest.raises(ValueError, match=r"`hi=4294967296` must fit int32"):
        js.random_search(jax.random.key(0), 4, m=js.int_uniform(0, 2**32))


def test_sweep_progress_without_tqdm_is_a_clear_error(monkeypatch):
    # tqdm is not a core dependency (jax and optax only): say how to get a bar.
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with pytest.raises(ImportError, match="`progress=True` needs tqdm"):
        js.sweep(_loss, {"lr": np.array([0.1, 0.2])}, chunk_size=2, progress=True)


def test_plot_sweep_draws_one_line_per_static_value_numpy_cannot_sort():
    result = _sweep(_loss, static={"h": [None, (3, 3)]})
    ax = js.plot.sweep(result, x="lr", metric="loss", mode="min")
    assert len(ax.get_lines()) == 2


def test_plot_sweep_heatmap_over_a_static_axis_numpy_cannot_sort():
    result = _sweep(_loss, static={"h": [None, (3, 3)]})
    ax = js.plot.sweep(result, x="lr", y="h", metric="loss", mode="min")
    cells = ax.get_images()[0].get_array()
    np.testing.assert_allclose(cells, [[0.1, 0.2, 0.3], [0.1, 0.2, 0.3]], rtol=1e-6)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["None", "(3, 3)"]


def _scaled(scale):
    def train(hp, key):
        return {"loss": hp["lr"] * scale}

    return train


def _loss_times(hp, key, scale):
    return {"loss": hp["lr"] * scale}


def test_checkpoint_refuses_a_train_fn_closing_over_other_values(tmp_path):
    _sweep(_scaled(1.0), checkpoint_dir=tmp_path)
    again = _sweep(_scaled(1.0), checkpoint_dir=tmp_path)  # same values: resumes
    assert again.stats["chunks_loaded"] == 2
    with pytest.raises(ValueError, match="holds chunks of a different sweep"):
        _sweep(_scaled(5.0), checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="holds chunks of a different sweep"):
        _sweep(functools.partial(_loss_times, scale=2.0), checkpoint_dir=tmp_path)


def test_checkpoint_fingerprint_is_the_same_in_another_process(tmp_path):
    # No memory address in it: a partial, a callable static value.
    code = (
        "import functools, numpy as np, jaxsched as js\n"
        "from jaxsched.sweep import _fingerprint\n"
        "from tests.test_sweep_edges import _loss_times\n"
        "fn = functools.partial(_loss_times, scale=2.0)\n"
        "print(_fingerprint(fn, {'lr': np.arange(3.0)}, {'act': [np.tanh]}, 1, 2))\n"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
        )
        for _ in range(2)
    ]
    assert runs[0].returncode == 0, runs[0].stderr[-2000:]
    assert runs[0].stdout == runs[1].stdout


def test_checkpoint_of_a_failed_first_run_does_not_block_the_fixed_one(tmp_path):
    def broken(hp, key):
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):
        _sweep(broken, checkpoint_dir=tmp_path)
    result = _sweep(_loss, checkpoint_dir=tmp_path)  # no chunk was written
    assert result.stats["chunks_computed"] == 2


def test_checkpoint_refuses_static_axes_given_in_another_order(tmp_path):
    # the order of the static axes is the order of the chunks on disk
    def train(hp, key):
        return {"loss": hp["lr"] + hp["a"] + hp["b"]}

    _sweep(train, static={"a": [0, 10], "b": [0, 100]}, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="holds chunks of a different sweep"):
        _sweep(train, static={"b": [0, 100], "a": [0, 10]}, checkpoint_dir=tmp_path)


@pytest.mark.parametrize(
    "first, second",
    [  # values Python shares between places (True, small ints) count every time
        (
            {"amsgrad": [True, False], "nesterov": [False]},
            {"amsgrad": [True, False], "nesterov": [True]},
        ),
        ({"a": [1, 2], "b": [1]}, {"a": [1, 2], "b": [2]}),
    ],
)
def test_checkpoint_refuses_static_values_that_repeat_others(tmp_path, first, second):
    _sweep(_loss, static=first, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="holds chunks of a different sweep"):
        _sweep(_loss, static=second, checkpoint_dir=tmp_path)


class _Scaled:
    def __init__(self, scale):
        self.scale = scale

    def __call__(self, hp, key):
        return {"loss": hp["lr"] * self.scale}

    def train(self, hp, key):
        return self(hp, key)


def _jitted_scaled(scale):
    return jax.jit(lambda hp, key: {"loss": hp["lr"] * scale})


SCALE = 1.0


def _global_scaled(hp, key):
    return {"loss": hp["lr"] * SCALE}


@pytest.mark.parametrize(
    "make",
    [_Scaled, lambda s: _Scaled(s).train, _jitted_scaled, lambda s: _scaled(s)],
    ids=["callable object", "bound method", "jitted function", "closure"],
)
def test_checkpoint_refuses_any_callable_that_computes_otherwise(tmp_path, make):
    _sweep(make(1.0), checkpoint_dir=tmp_path)
    assert _sweep(make(1.0), checkpoint_dir=tmp_path).stats["chunks_loaded"] == 2
    with pytest.raises(ValueError, match="holds chunks of a different sweep"):
        _sweep(make(5.0), checkpoint_dir=tmp_path)


def test_checkpoint_refuses_a_train_fn_whose_global_changed(tmp_path, monkeypatch):
    _sweep(_global_scaled, checkpoint_dir=tmp_path)
    monkeypatch.setattr(sys.modules[__name__], "SCALE", 5.0)
    with pytest.raises(ValueError, match="holds chunks of a different sweep"):
        _sweep(_global_scaled, checkpoint_dir=tmp_path)


def test_checkpoint_chunks_of_another_sweep_are_refused_without_the_manifest(
    tmp_path,
):
    _sweep(_loss, checkpoint_dir=tmp_path)
    (tmp_path / "sweep.json").unlink()
    with pytest.raises(ValueError, match="holds chunks of a different sweep"):
        _sweep(_scaled(2.0), checkpoint_dir=tmp_path)
    assert _sweep(_loss, checkpoint_dir=tmp_path).stats["chunks_loaded"] == 2


@dataclasses.dataclass
class _Data:
    x: np.ndarray


def test_checkpoint_fingerprint_walks_objects_and_skips_attribute_names(tmp_path):
    from flax import nnx

    model = nnx.Linear(2, 2, rngs=nnx.Rngs(0))  # its repr holds memory addresses

    def train_on(data):
        return lambda hp, key: {"loss": hp["lr"] * data.x.sum() + 0 * model.bias[0]}

    _sweep(train_on(_Data(np.arange(2000.0))), checkpoint_dir=tmp_path)
    data = _Data(np.arange(2000.0))
    assert _sweep(train_on(data), checkpoint_dir=tmp_path).stats["chunks_loaded"] == 2
    data.x[5] = 0.0  # NumPy's repr of the array would not show it
    with pytest.raises(ValueError, match="holds chunks of a different sweep"):
        _sweep(train_on(data), checkpoint_dir=tmp_path)
    from jaxsched.sweep import _global_names

    names = _global_names(train_on.__code__)
    assert "x" not in names and "sum" not in names


@pytest.mark.parametrize("name", ["file", "allow_pickle", "__dtypes__"])
def test_checkpoint_keeps_metrics_named_like_numpy_arguments(tmp_path, name):
    def train(hp, key):
        return {name: hp["lr"] * 2, "loss": hp["lr"]}

    first = _sweep(train, checkpoint_dir=tmp_path)
    again = _sweep(train, checkpoint_dir=tmp_path)
    assert again.stats["chunks_loaded"] == 2
    assert sorted(again.metrics) == sorted(first.metrics)
    np.testing.assert_array_equal(again.metrics[name], first.metrics[name])


def test_sweep_result_save_appends_its_suffixes_to_a_path_with_a_dot(tmp_path):
    for lr in (0.1, 0.01):
        grid = {"lr": np.array([lr], np.float32)}
        _sweep(_loss, grid).save(tmp_path / f"run_lr{lr}")
    assert js.SweepResult.load(tmp_path / "run_lr0.1").hparams["lr"].tolist() == [
        np.float32(0.1)
    ]
    loaded = js.SweepResult.load(tmp_path / "run_lr0.01.npz")
    assert loaded.hparams["lr"].tolist() == [np.float32(0.01)]


def test_sweep_result_save_keeps_json_values_beside_a_function(tmp_path):
    result = _sweep(_loss, static={"act": [None, 3, jnp.tanh]})
    result.save(tmp_path / "r")
    act = js.SweepResult.load(tmp_path / "r").hparams["act"]
    assert act[:3].tolist() == [None, None, None] and act[3] == 3
    assert isinstance(act[-1], str) and "tanh" in act[-1]


def test_sweep_result_load_refuses_what_save_did_not_write(tmp_path):
    result = _sweep(_loss)
    result.save(tmp_path / "ok")
    (tmp_path / "junk.json").write_text('{"hparams": ["lr"], "metrics": ["nope"]}')
    (tmp_path / "junk.npz").write_bytes((tmp_path / "ok.npz").read_bytes())
    with pytest.raises(ValueError, match="do not hold a sweep's result"):
        js.SweepResult.load(tmp_path / "junk")
    js.SweepResult(
        result.hparams, result.metrics, result.diverged[:1], result.stats
    ).save(tmp_path / "short")
    with pytest.raises(ValueError, match="is inconsistent"):
        js.SweepResult.load(tmp_path / "short")


def test_sweep_refuses_axes_that_are_not_1d():
    with pytest.raises(ValueError, match="must be 1-D"):
        _sweep(_loss, {"lr": np.ones((3, 2), np.float32)})


def test_sweep_refuses_values_that_would_become_zero_in_float32():
    with pytest.raises(ValueError, match="Axis `lr` holds 1e-50"):
        _sweep(_loss, {"lr": np.array([1e-50, 0.1])})


def test_sweep_static_zero_and_negative_zero_compile_apart():
    result = _sweep(
        lambda hp, k: {"s": jnp.copysign(1.0, hp["x"]) + 0 * hp["lr"]},
        static={"x": [0.0, -0.0]},
    )
    assert result.metrics["s"][:, 0].tolist() == [1.0] * 3 + [-1.0] * 3


def test_sweep_auto_chunk_fits_the_largest_static_combination():
    def train(hp, key):
        # a temporary buffer of width**2 floats (a cumulative sum needs it)
        return {"loss": jnp.cumsum(jnp.ones(hp["width"] ** 2) * hp["lr"])[-1]}

    grid = {"lr": np.linspace(0.1, 1, 5, dtype=np.float32)}
    both = js.sweep(train, grid, static={"width": [8, 512]}, progress=False)
    large = js.sweep(train, grid, static={"width": [512]}, progress=False)
    small = js.sweep(train, grid, static={"width": [8]}, progress=False)
    per_config = [r.stats["working_set_per_config"] for r in (small, large, both)]
    assert per_config[0] < per_config[1] == per_config[2]
    assert both.stats["chunk_size"] == large.stats["chunk_size"]


def test_sweep_arguments_of_the_wrong_type_are_clear_errors():
    with pytest.raises(ValueError, match="`hparams` must be a dict of axes"):
        js.sweep(_loss, [0.1, 0.2], progress=False)
    with pytest.raises(ValueError, match="`static` must be a dict of axes"):
        _sweep(_loss, static=["adam"])
    with pytest.raises(ValueError, match="`mesh` must be a jax.sharding.Mesh"):
        _sweep(_loss, mesh="configs")


@pytest.mark.parametrize(
    "values, match",
    [
        ("adam", "takes a list of values"),
        (5, "takes a list of values"),
        (["adam", 1], "one kind of them"),
        ([True, 2], "one kind of them"),
        ([(1, 2), (3, 4)], "one kind of them"),
    ],
)
def test_choice_refuses_values_numpy_would_convert(values, match):
    with pytest.raises(ValueError, match=match):
        js.choice(values)


def test_sweep_chunk_larger_than_the_grid_runs_no_padding():
    result = js.sweep(_loss, GRID, chunk_size=1000, progress=False)
    assert result.stats["chunk_size"] == 3 and result.metrics["loss"].shape == (3, 1)


def test_choice_takes_jax_scalars():
    drawn = js.random_search(
        jax.random.key(0), 4, x=js.choice([jnp.float32(0.1), jnp.float32(0.2)])
    )["x"]
    assert set(drawn.tolist()) <= {np.float32(0.1), np.float32(0.2)}


def test_an_axis_named_index_is_refused():
    # `best` returns the configuration's `index` beside its hyperparameters
    with pytest.raises(ValueError, match="index"):
        _sweep(_loss, {"index": np.array([1.0, 2.0], np.float32)})
    with pytest.raises(ValueError, match="index"):
        _sweep(_loss, GRID, static={"index": [0, 1]})


def test_best_by_a_metric_named_like_an_axis_is_refused():
    result = _sweep(lambda hp, key: {"lr": hp["lr"] ** 2, "loss": hp["lr"]})
    with pytest.raises(ValueError, match="`lr` names both"):
        result.best("lr")
    assert result.best("loss")["lr"] == pytest.approx(0.1)


def test_table_takes_one_metric_name_for_also():
    result = _sweep(lambda hp, key: {"val_loss": 2 * hp["lr"], "loss": hp["lr"]})
    assert result.table("loss", also="val_loss") == result.table(
        "loss", also=("val_loss",)
    )
    assert "val_loss mean" in result.table("loss", also="val_loss")


def _random_search(**static):
    draws = js.random_search(
        jax.random.key(0), 12, lr=js.log_uniform(1e-3, 1.0), wd=js.uniform(0.0, 0.1)
    )
    return _sweep(lambda hp, key: {"loss": hp["lr"] + hp["wd"]}, draws, **static)


def test_plot_sweep_of_a_random_search_draws_points_per_static_value():
    # no two configurations share their other axes: points, not 12 one-point lines
    ax = js.plot.sweep(_random_search(), x="lr", metric="loss", mode="min")
    assert len(ax.containers) == 1 and len(ax.containers[0].lines[0].get_xdata()) == 12
    assert ax.get_legend() is None and not ax.collections[1:]  # no bands
    ax = js.plot.sweep(
        _random_search(static={"opt": ["a", "b"]}), x="lr", metric="loss", mode="min"
    )
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(ax.containers) == 2 and labels == ["opt=a", "opt=b"]


def test_plot_sweep_of_a_random_search_over_two_axes_is_a_scatter():
    ax = js.plot.sweep(_random_search(), x="lr", y="wd", metric="loss", mode="min")
    assert not ax.get_images()  # a 12 x 12 heatmap would be mostly blank
    points = ax.collections[0]
    assert len(points.get_offsets()) == 12 and len(points.get_array()) == 12
    assert ax.get_xscale() == "log" and ax.get_ylabel() == "wd"


def test_plot_sweep_along_a_static_axis_numpy_cannot_sort():
    result = _sweep(_loss, static={"h": [None, (3, 3)]})
    ax = js.plot.sweep(result, x="h", metric="loss", mode="min")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["None", "(3, 3)"]
    assert len(ax.get_lines()) == 3  # one line per learning rate


def test_checkpoint_refuses_a_model_whose_class_body_changed(tmp_path, monkeypatch):
    # the model's class is the user's (an nnx.Module subclass in a script): a
    # changed method body computes otherwise, whatever its name
    module = tmp_path / "user_model.py"
    source = (
        "class Model:\n"
        "    def __init__(self):\n"
        "        self.scale = 2.0\n\n"
        "    def forward(self, x):\n"
        "        return x * self.scale{}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    def train_with_model():
        import user_model

        model = importlib.reload(user_model).Model()
        return lambda hp, key: {"loss": model.forward(hp["lr"])}

    module.write_text(source.format(""))
    checkpoints = tmp_path / "checkpoints"
    _sweep(train_with_model(), checkpoint_dir=checkpoints)
    assert (
        _sweep(train_with_model(), checkpoint_dir=checkpoints).stats["chunks_loaded"]
        == 2
    )
    module.write_text(source.format(" + 1.0"))
    with pytest.raises(ValueError, match="holds chunks of a different sweep"):
        _sweep(train_with_model(), checkpoint_dir=checkpoints)
    monkeypatch.delitem(sys.modules, "user_model")


def test_checkpoint_of_a_train_fn_using_a_class_defined_without_a_file(tmp_path):
    # a class defined in a notebook or `python -c` has no source file
    code = """
import sys, numpy as np, jax.numpy as jnp, jaxsched as js
class Model:
    def __init__(self): self.scale = 2.0
    def loss(self, lr): return (lr * self.scale) ** 2
model = Model()
def train(hp, key):
    return {"loss": jnp.asarray(model.loss(hp["lr"]))}
grid = {"lr": np.array([0.1, 0.2], np.float32)}
js.sweep(train, grid, progress=False, chunk_size=2, checkpoint_dir=sys.argv[1])
again = js.sweep(train, grid, progress=False, chunk_size=2, checkpoint_dir=sys.argv[1])
print(again.stats["chunks_loaded"])
"""
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True
    )
    assert result.stdout.strip() == "1", result.stderr[-2000:]


class _Base:
    def scale(self):
        return 2.0


class _Child(_Base):
    pass


def test_checkpoint_sees_a_changed_method_of_a_base_class(tmp_path, monkeypatch):
    model = _Child()

    def train(hp, key):
        return {"loss": hp["lr"] * model.scale()}

    _sweep(train, checkpoint_dir=tmp_path)
    monkeypatch.setattr(_Base, "scale", lambda self: 3.0)
    with pytest.raises(ValueError, match="holds chunks of a different sweep"):
        _sweep(train, checkpoint_dir=tmp_path)


def test_best_by_a_metric_named_index_is_refused():
    result = _sweep(lambda hp, key: {"index": 10 * hp["lr"]})
    with pytest.raises(ValueError, match="`index`"):
        result.best("index")


def test_plot_sweep_keeps_static_values_that_compare_equal_apart():
    result = _sweep(_loss, static={"s": [1, True]})
    ax = js.plot.sweep(result, x="s", metric="loss", mode="min")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "True"]
    ax = js.plot.sweep(result, x="lr", y="s", metric="loss", mode="min")
    assert ax.get_images()[0].get_array().shape == (2, 3)


def test_sweep_runs_every_part_of_a_chunk_under_the_callers_x64(monkeypatch):
    # The second part of a chunk runs from a thread of its own, which does not see
    # the caller's `enable_x64`: it must run the program compiled in the caller's.
    monkeypatch.setattr(_chunking, "parts", lambda sharded, count: 2)

    def train(hp, key):
        return {"v": jnp.asarray(hp["lr"], jnp.float64) / 3 + 1e-12}

    grid = {"lr": np.array([0.1, 0.2, 0.3, 0.4])}
    with jax.enable_x64(True):
        result = js.sweep(train, grid, chunk_size=4, progress=False)
    assert result.stats["parts_per_chunk"] == 2
    assert result.metrics["v"].dtype == np.float64
    np.testing.assert_array_equal(result.metrics["v"][:, 0], grid["lr"] / 3 + 1e-12)


def _adam_only_metric(hp, key):
    out = {"loss": hp["lr"] * 1.0}
    if hp["opt"] == "adam":
        out["b2"] = hp["lr"] * 2
    return out


@pytest.mark.parametrize("order", [("adam", "sgd"), ("sgd", "adam")])
def test_sweep_static_combinations_must_return_the_same_metrics(order):
    # A metric only one combination returns was a bare KeyError after all the
    # work, or (in the other order) silently dropped.
    with pytest.raises(ValueError, match=r"same metrics: `b2` is .*missing"):
        _sweep(_adam_only_metric, static={"opt": order})
    with pytest.raises(ValueError, match=r"`curve` is of shape \(3,\) per run"):
        _sweep(lambda hp, k: {"curve": jnp.zeros(hp["n"])}, static={"n": (3, 4)})
    # dtypes may differ: the rows are promoted, as they always were
    mixed = _sweep(
        lambda hp, k: {"loss": hp["lr"].astype(hp["dtype"])},
        static={"dtype": (jnp.float32, jnp.bfloat16)},
    )
    assert mixed.metrics["loss"].dtype == np.float32


def test_sweep_under_jax_debug_nans_checks_every_configuration():
    # The second half of a chunk ran in a thread that did not see the caller's
    # `jax.debug_nans`: a NaN there only marked the run diverged.
    grid = {"lr": np.array([1.0, 2.0, 3.0, -1.0], np.float32)}
    with jax.debug_nans(True), pytest.raises(FloatingPointError):
        js.sweep(lambda hp, k: {"v": jnp.log(hp["lr"])}, grid, progress=False)


def test_sweep_takes_over_a_directory_with_only_a_leftover_temporary_file(tmp_path):
    # A sweep killed while saving leaves a temporary file: not a finished chunk.
    _sweep(_loss, checkpoint_dir=tmp_path)  # another sweep's manifest
    for chunk in tmp_path.glob("chunk-*.npz"):
        chunk.rename(chunk.with_name(chunk.stem + ".tmp-0-1.npz"))
    result = _sweep(lambda hp, k: {"loss": 2 * hp["lr"]}, checkpoint_dir=tmp_path)
    np.testing.assert_allclose(result.metrics["loss"][:, 0], 2 * GRID["lr"])


def test_sweep_does_not_reuse_the_chunk_size_of_a_sweep_that_finished_nothing(
    tmp_path,
):
    big = {"lr": np.linspace(0.1, 1.0, 64).astype(np.float32)}
    js.sweep(_loss, big, chunk_size=64, progress=False, checkpoint_dir=tmp_path)
    for chunk in tmp_path.glob("chunk-*.npz"):
        chunk.unlink()  # as if killed before its first chunk
    result = js.sweep(_loss, GRID, progress=False, checkpoint_dir=tmp_path)
    assert result.stats["chunk_size"] <= 4  # its own size, not 64 of padding


def test_sweep_unreadable_checkpoint_files_are_named(tmp_path):
    _sweep(_loss, checkpoint_dir=tmp_path)
    chunk = sorted(tmp_path.glob("chunk-*.npz"))[0]
    chunk.write_bytes(chunk.read_bytes()[:50])  # truncated
    with pytest.raises(ValueError, match=rf"{chunk.name}' cannot be read"):
        _sweep(_loss, checkpoint_dir=tmp_path)
    (tmp_path / "sweep.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"sweep.json' cannot be read"):
        _sweep(_loss, checkpoint_dir=tmp_path)


def test_grid_refuses_an_axis_that_mixes_kinds():
    # NumPy made [True, 2] into [1, 2] and ["adam", 2] into ["adam", "2"].
    for mixed in ([True, 2], ["adam", 2]):
        with pytest.raises(ValueError, match="Axis `n` mixes numbers"):
            js.grid(n=mixed)
    assert js.grid(n=np.array([1, 2]))["n"].tolist() == [1, 2]


def test_best_where_must_be_a_mask_over_the_configurations():
    result = _sweep(_loss)
    assert result.best("loss", where=np.array([False, True, True]))["index"] == 1
    for where in ([0, 1, 1], np.array([True, False])):
        with pytest.raises(ValueError, match="`where` must be a bool mask over the 3"):
            result.best("loss", where=where)
