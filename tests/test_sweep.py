"""js.grid, js.random_search, js.sweep and SweepResult."""

import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import pytest

import jaxsched as js
from tests import sweep_helpers
from tests.sweep_helpers import train_fn

matplotlib.use("Agg")
ROOT = pathlib.Path(__file__).parents[1]


def test_grid_is_the_cartesian_product_and_keeps_ints():
    g = js.grid(learning_rate=[0.1, 0.01, 0.001], warmup_steps=[0, 100])
    assert g["learning_rate"].tolist() == [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    assert g["warmup_steps"].tolist() == [0, 100] * 3
    assert g["warmup_steps"].dtype.kind == "i"
    with pytest.raises(ValueError, match="at least one axis"):
        js.grid()
    with pytest.raises(ValueError, match="Axis `lr` must be a non-empty"):
        js.grid(lr=[])


def test_random_search_draws_each_axis_in_range():
    c = js.random_search(
        jax.random.key(0),
        200,
        lr=js.log_uniform(1e-4, 1e-1),
        wd=js.uniform(0.0, 0.1),
        warmup=js.int_uniform(0, 5),
        opt=js.choice(["adam", "sgd"]),
    )
    assert all(len(v) == 200 for v in c.values())
    assert 1e-4 <= c["lr"].min() and c["lr"].max() <= 1e-1
    assert np.log10(c["lr"]).std() > 0.5  # spread over decades, not uniform
    assert 0 <= c["wd"].min() and c["wd"].max() <= 0.1
    assert c["warmup"].dtype.kind == "i" and set(c["warmup"]) == set(range(6))
    assert set(c["opt"]) == {"adam", "sgd"}
    with pytest.raises(ValueError, match="`lo=1` must be < `hi=0.5`"):
        js.uniform(1.0, 0.5)
    with pytest.raises(ValueError, match="is not a distribution"):
        js.random_search(jax.random.key(0), 3, lr=0.1)


def _solo(hparams, key, **static):
    return jax.jit(lambda hp, k: train_fn(hp | static, k))(hparams, key)


def test_sweep_equals_configs_run_one_by_one():
    grid = js.grid(learning_rate=[1e-3, 1e-2, 3e-2, 1e-1, 0.3])
    result = js.sweep(train_fn, grid, seeds=2, chunk_size=2, progress=False)
    assert result.metrics["final_loss"].shape == (5, 2)
    assert result.metrics["curve"].shape == (5, 2, 30)
    assert result.metrics["extra/norm"].shape == (5, 2)
    keys = jax.random.split(jax.random.key(0), 2)
    for i, lr in enumerate(grid["learning_rate"]):
        for s in range(2):
            solo = _solo({"learning_rate": jnp.float32(lr)}, keys[s])
            np.testing.assert_allclose(
                result.metrics["final_loss"][i, s],
                solo["final_loss"],
                rtol=1e-6,
                atol=1e-7,
            )
            np.testing.assert_allclose(
                result.metrics["curve"][i, s], solo["curve"], rtol=1e-6, atol=1e-7
            )


def test_second_sweep_of_the_same_shapes_compiles_nothing():
    grid = js.grid(learning_rate=[1e-3, 1e-2, 1e-1])
    first = js.sweep(
        train_fn,
        grid,
        chunk_size=3,
        progress=False,
        static={"optimizer": ["adam", "sgd"]},
    )
    assert first.stats["compiles"] <= 2
    traces = len(sweep_helpers.TRACES)
    second = js.sweep(
        train_fn,
        js.grid(learning_rate=[3e-3, 3e-2, 0.3]),
        chunk_size=3,
        progress=False,
        static={"optimizer": ["adam", "sgd"]},
    )
    assert second.stats["compiles"] == 0 and len(sweep_helpers.TRACES) == traces
    assert not np.allclose(first.metrics["final_loss"], second.metrics["final_loss"])


def test_static_axes_compile_once_per_combination_and_appear_in_hparams():
    result = js.sweep(
        train_fn,
        js.grid(learning_rate=[1e-2, 1e-1]),
        progress=False,
        static={"optimizer": ["adam", "sgd"]},
    )
    assert result.hparams["optimizer"].tolist() == ["adam", "adam", "sgd", "sgd"]
    assert result.hparams["learning_rate"].tolist() == [1e-2, 1e-1, 1e-2, 1e-1]
    assert not np.allclose(
        result.metrics["final_loss"][:2], result.metrics["final_loss"][2:]
    )


def test_diverging_config_is_flagged_and_never_poisons_or_wins():
    grid = js.grid(learning_rate=[1e-2, 1e30, 1e-1])
    result = js.sweep(
        train_fn, grid, seeds=2, static={"optimizer": ["sgd"]}, progress=False
    )
    assert result.diverged.tolist() == [[False, False], [True, True], [False, False]]
    keys = jax.random.split(jax.random.key(0), 2)
    solo = _solo({"learning_rate": jnp.float32(1e-1)}, keys[1], optimizer="sgd")
    np.testing.assert_allclose(
        result.metrics["final_loss"][2, 1], solo["final_loss"], rtol=1e-6, atol=1e-6
    )
    assert result.best("final_loss")["index"] != 1
    assert "| 2/2 |" in result.table("final_loss")


def test_best_table_save_load_and_plots(tmp_path):
    grid = js.grid(learning_rate=[1e-3, 1e-2, 1e-1], optimizer_=[0, 1])
    result = js.sweep(
        lambda hp, k: train_fn({"learning_rate": hp["learning_rate"]}, k),
        grid,
        seeds=2,
        progress=False,
    )
    best = result.best("final_loss", mode="min")
    mean = result.metrics["final_loss"].mean(axis=1)
    assert best["index"] == int(np.argmin(mean)) and best[
        "final_loss"
    ] == pytest.approx(mean.min())
    assert set(best) == {"learning_rate", "optimizer_", "final_loss", "index"}
    assert result.best("final_loss", "max")["index"] == int(np.argmax(mean))
    table = result.table("final_loss", top=3)
    assert table.count("\n") == 4 and "std" in table
    result.save(tmp_path / "sweep")
    loaded = js.SweepResult.load(tmp_path / "sweep")
    for a, b in zip(
        jax.tree.leaves((result.hparams, result.metrics, result.diverged)),
        jax.tree.leaves((loaded.hparams, loaded.metrics, loaded.diverged)),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    ax = js.plot.sweep(result, x="learning_rate", metric="final_loss", mode="min")
    assert ax.get_xscale() == "log" and len(ax.get_lines()) == 2
    ax = js.plot.sweep(
        result, x="learning_rate", y="optimizer_", metric="final_loss", mode="min"
    )
    assert ax.images and ax.images[0].get_array().shape == (2, 3)


def test_sweep_bad_input_is_a_clear_error():
    with pytest.raises(
        ValueError, match="must be 1-D with one value per configuration"
    ):
        js.sweep(train_fn, {"learning_rate": [0.1, 0.2], "b": [1, 2, 3]})
    with pytest.raises(ValueError, match="`hparams` is empty"):
        js.sweep(train_fn, {})
    with pytest.raises(ValueError, match="no configurations"):
        js.sweep(train_fn, {"learning_rate": []})
    with pytest.raises(ValueError, match="`chunk_size=0`"):
        js.sweep(train_fn, js.grid(learning_rate=[0.1]), chunk_size=0)
    mesh = jax.sharding.Mesh(np.asarray(jax.devices()[:1]), ("data",))
    with pytest.raises(ValueError, match="needs one named 'configs'"):
        js.sweep(train_fn, js.grid(learning_rate=[0.1]), mesh=mesh)
    with pytest.raises(ValueError, match="must return a dict"):
        js.sweep(
            lambda hp, k: {"bad": "string"},
            js.grid(learning_rate=[0.1]),
            progress=False,
        )
    result = js.sweep(train_fn, js.grid(learning_rate=[0.1]), progress=False)
    with pytest.raises(ValueError, match="Unknown metric 'accuracy'"):
        result.best("accuracy")


def _run_python(code, env_extra=None, **kwargs):
    env = dict(os.environ, PYTHONPATH=str(ROOT), **(env_extra or {}))
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        **kwargs,
    )


def test_sharded_sweep_over_four_devices_equals_unsharded(tmp_path):
    code = """
        import jax, jax.numpy as jnp, numpy as np, jaxsched as js
        from tests.sweep_helpers import train_fn
        assert len(jax.devices()) == 4
        grid = js.grid(learning_rate=np.logspace(-3, -1, 10))
        mesh = jax.sharding.Mesh(np.asarray(jax.devices()), ("configs",))
        sharded = js.sweep(train_fn, grid, seeds=2, mesh=mesh, chunk_size=8,
                           progress=False)
        plain = js.sweep(train_fn, grid, seeds=2, progress=False)
        np.testing.assert_allclose(sharded.metrics["curve"], plain.metrics["curve"],
                                   rtol=1e-6, atol=1e-7)
        print("chunk", sharded.stats["chunk_size"])
        # jax.make_mesh gives Explicit axes: the chunk's type carries its sharding
        explicit = jax.make_mesh((4,), ("configs",))
        assert explicit.axis_types == (jax.sharding.AxisType.Explicit,)
        typed = js.sweep(train_fn, grid, seeds=2, mesh=explicit, progress=False)
        np.testing.assert_allclose(typed.metrics["curve"], plain.metrics["curve"],
                                   rtol=1e-6, atol=1e-7)

        def constant_carry(hp, key):  # the same carry for all configs at first
            step = lambda c, _: (c * (1 - hp["learning_rate"]) + 1.0, None)
            return {"c": jax.lax.scan(step, jnp.zeros(()), None, length=5)[0]}

        with jax.set_mesh(jax.make_mesh((2, 2), ("configs", "other"))):  # another
            carried = js.sweep(constant_carry, grid, mesh=explicit, progress=False)
        expected = js.sweep(constant_carry, grid, progress=False)
        np.testing.assert_allclose(carried.metrics["c"], expected.metrics["c"],
                                   rtol=1e-6)
        # the 4 devices share this machine's cache: a budget of 10 configurations
        # is 2 per device (one chunk of 12 if each device had it all)
        per_config = typed.stats["working_set_per_config"]
        from jaxsched import _chunking
        _chunking.memory_budget = lambda device: int(10.5 * per_config)
        shared = js.sweep(train_fn, grid, seeds=2, mesh=explicit, progress=False)
        print("shared chunk", shared.stats["chunk_size"])
        # a checkpoint of chunks of 3 cannot be resumed on 4 devices: a clear error
        import tempfile
        ckpt = tempfile.mkdtemp()
        small = js.grid(learning_rate=np.logspace(-3, -1, 3))
        js.sweep(train_fn, small, chunk_size=3, progress=False, checkpoint_dir=ckpt)
        try:
            js.sweep(train_fn, small, mesh=explicit, progress=False,
                     checkpoint_dir=ckpt)
        except ValueError as error:
            assert "cannot share equally" in str(error), error
        else:
            raise AssertionError("chunks of 3 resumed on 4 devices")
    """
    result = _run_python(
        code,
        {
            "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
            "JAX_PLATFORMS": "cpu",
        },
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "chunk 8" in result.stdout
    assert "shared chunk 8" in result.stdout  # 2 per device, 8 in all


def test_killed_sweep_resumes_from_its_checkpoints(tmp_path):
    ckpt = tmp_path / "ckpt"
    code = f"""
        import time, jax, numpy as np, jaxsched as js
        from tests.sweep_helpers import train_fn

        def slow(hp, key):  # a host pause per chunk, so the kill lands mid-sweep
            jax.debug.callback(lambda: time.sleep(0.5))
            return train_fn(hp, key)

        grid = js.grid(learning_rate=np.logspace(-3, -1, 12))
        result = js.sweep(slow, grid, chunk_size=2, progress=False,
                          checkpoint_dir={str(ckpt)!r})
        print("loaded", result.stats["chunks_loaded"], "computed",
              result.stats["chunks_computed"])
        np.save({str(tmp_path / "resumed.npy")!r}, result.metrics["curve"])
    """
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def finished():  # not the temporary files of a save in flight
        return [p for p in ckpt.glob("chunk-*.npz") if ".tmp" not in p.name]

    deadline = time.time() + 120
    while len(finished()) < 2 and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(finished())
    assert 2 <= done < 6, done
    for chunk in finished():  # whole: a save writes a temporary file, then renames
        np.load(chunk).close()

    rerun = _run_python(code, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    loaded = int(rerun.stdout.split()[1])
    assert loaded >= done and f"computed {6 - loaded}" in rerun.stdout
    uninterrupted = js.sweep(
        train_fn,
        js.grid(learning_rate=np.logspace(-3, -1, 12)),
        chunk_size=2,
        progress=False,
    )
    np.testing.assert_allclose(
        np.load(tmp_path / "resumed.npy"),
        uninterrupted.metrics["curve"],
        rtol=1e-6,
        atol=1e-7,
    )

    with pytest.raises(ValueError, match="holds chunks of a different sweep"):
        js.sweep(
            train_fn,
            js.grid(learning_rate=[0.1, 0.2]),
            chunk_size=2,
            progress=False,
            checkpoint_dir=ckpt,
        )


def test_cli_sweep_small_settings_prints_leaderboard_and_reaches_95_percent(
    tmp_path, capsys
):
    from jaxsched import cli

    out = tmp_path / "sweep"
    with jax.numpy_dtype_promotion("standard"):  # flax mixes dtypes internally
        code = cli.main(
            [
                "sweep",
                "--optimizers",
                "adam,sgd",
                "--lrs",
                "1e-3,1e-1,3",
                "--steps",
                "200",
                "--seeds",
                "1",
                "--quiet",
                "--out",
                str(out),
            ]
        )
    assert code == 0
    printed = capsys.readouterr().out
    assert (
        "| rank | learning_rate | optimizer | schedule | val_accuracy mean |" in printed
    )
    assert "runs/s" in printed and "compiles" in printed
    result = js.SweepResult.load(out / "result")
    assert result.num_configs == 12  # 3 rates x 2 optimizers x 2 schedules
    assert result.best("val_accuracy", "max")["val_accuracy"] >= 0.95
    for png in ("heatmap.png", "best_curves.png"):
        assert (out / png).stat().st_size > 10_000


def test_two_processes_with_two_devices_each_run_one_sharded_sweep(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = f"""
        import sys, jax, numpy as np
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        pid = int(sys.argv[1])
        jax.distributed.initialize("127.0.0.1:{port}", num_processes=2, process_id=pid)
        import jaxsched as js
        from tests.sweep_helpers import train_fn
        assert jax.process_count() == 2 and jax.device_count() == 4
        mesh = jax.sharding.Mesh(np.asarray(jax.devices()), ("configs",))
        grid = js.grid(learning_rate=np.logspace(-3, -1, 10))
        # chunk_size="auto": the probe's answer is process 0's on both; both
        # write every chunk to one directory, each through a file of its own
        kwargs = dict(seeds=2, mesh=mesh, progress=False, checkpoint_dir="{tmp_path}/c")
        result = js.sweep(train_fn, grid, **kwargs)
        np.save(f"{tmp_path}/curve{{pid}}.npy", result.metrics["curve"])
        again = js.sweep(train_fn, grid, **kwargs)
        assert again.stats["chunks_computed"] == 0
        np.testing.assert_array_equal(again.metrics["curve"], result.metrics["curve"])
    """
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        JAX_PLATFORMS="cpu",
        XLA_FLAGS="--xla_force_host_platform_device_count=2",
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code), str(pid)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for pid in range(2)
    ]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors[0][-2000:] + errors[1][-2000:]
    single = js.sweep(
        train_fn,
        js.grid(learning_rate=np.logspace(-3, -1, 10)),
        seeds=2,
        progress=False,
    )
    for pid in range(2):  # both processes hold the full result
        np.testing.assert_allclose(
            np.load(tmp_path / f"curve{pid}.npy"),
            single.metrics["curve"],
            rtol=1e-6,
            atol=1e-7,
        )
