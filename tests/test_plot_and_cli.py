"""Seeing a schedule: js.plot.schedule and `jaxsched plot`."""

import os
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import jax  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import jaxsched as js  # noqa: E402
from jaxsched import cli  # noqa: E402

S = js.schedules


def _is_png_with_content(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    image = plt.imread(path)
    # Something was drawn: far from a blank, single-colour canvas.
    return image.std() > 0.05


def test_plot_schedule_draws_each_schedule_and_saves_png(tmp_path):
    schedules = [
        S.cosine_decay(0.1, 100),
        S.step_decay(0.1, 30, 0.5),
        S.lr_range(1e-5, 1, 100),
    ]
    ax = js.plot.schedule(schedules, 120, log=True, labels=["cos", "step", "range"])
    assert len(ax.get_lines()) == 3
    x, y = ax.get_lines()[0].get_data()
    np.testing.assert_allclose(y, np.asarray(schedules[0](np.arange(120))))
    assert ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "cos",
        "step",
        "range",
    ]
    path = tmp_path / "schedules.png"
    ax.figure.savefig(path)
    plt.close(ax.figure)
    assert _is_png_with_content(path)


def test_plot_schedule_rejects_bad_arguments():
    with pytest.raises(ValueError, match="`num_steps=0`"):
        js.plot.schedule(S.constant(0.1), 0)
    with pytest.raises(ValueError, match="`labels` has 2 entries for 1 schedules"):
        js.plot.schedule(S.constant(0.1), 10, labels=["a", "b"])


def test_cli_parses_several_schedules_with_overrides():
    specs = cli.parse_schedules(
        ["multistep_decay", "milestones=10,20", "gamma=0.5", "cyclic", "mode=exp_range"]
    )
    assert specs[0] == (
        "multistep_decay",
        {"init_value": 0.1, "milestones": [10, 20], "gamma": 0.5},
    )
    assert specs[1][1]["mode"] == "exp_range"
    flags = cli.parse_schedules(["one_cycle", "three_phase=false"])[0][1]
    assert flags["three_phase"] is False  # was the string "false" (truthy)
    with pytest.raises(SystemExit, match="unknown schedule 'cosine'"):
        cli.parse_schedules(["cosine"])
    with pytest.raises(SystemExit, match="comes before a schedule name"):
        cli.parse_schedules(["gamma=0.5"])


def test_cli_plot_writes_png(tmp_path, capsys):
    out = tmp_path / "two.png"
    code = cli.main(
        [
            "plot",
            "cosine_decay",
            "decay_steps=50",
            "step_decay",
            "step_size=10",
            "--steps",
            "80",
            "--out",
            str(out),
            "--log",
        ]
    )
    assert code == 0 and _is_png_with_content(out)
    printed = capsys.readouterr().out
    assert "cosine_decay" in printed and f"saved {out}" in printed


def test_cli_plot_invalid_value_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="`gamma=-1` is out of range"):
        cli.main(["plot", "step_decay", "gamma=-1", "--out", str(tmp_path / "x.png")])


def test_jaxsched_plot_with_no_arguments_draws_the_gallery(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "jaxsched.cli", "plot"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "saved schedules.png" in result.stdout
    assert _is_png_with_content(tmp_path / "schedules.png")


@pytest.mark.parametrize(
    "option, message",
    [
        ("--lrs=0,1,3", "`--lrs=0,1,3` must be LO,HI,COUNT with 0 < LO <= HI"),
        ("--lrs=-1,1,3", "`--lrs=-1,1,3` must be LO,HI,COUNT"),
        ("--lrs=1e-3,1e-1", "`--lrs=1e-3,1e-1` must be LO,HI,COUNT"),
        ("--devices=64", "`--devices=64`: this machine has"),
        ("--optimizers=adam,sgd,adam", r"names \['adam'\] twice"),
        ("--lrs=1e-3,inf,3", "`--lrs=1e-3,inf,3` must be LO,HI,COUNT"),
        ("--lrs=1e-3,1,2.5", "`--lrs=1e-3,1,2.5` must be LO,HI,COUNT"),
        ("--lrs=a,1,2", "`--lrs=a,1,2` must be LO,HI,COUNT"),
        ("--lrs=1e-3,1,0", "`--lrs=1e-3,1,0` must be LO,HI,COUNT"),
        ("--batch-size=5000", "`--batch-size=5000` must be <= 1438"),
    ],
)
def test_cli_sweep_bad_options_are_clear_errors(option, message):
    from jaxsched import cli

    with pytest.raises(SystemExit, match=message):
        cli.main(["sweep", option, "--steps", "5", "--quiet"])


def test_cli_plot_out_without_extension_saves_and_names_the_png(tmp_path, capsys):
    out = tmp_path / "gallery"
    assert cli.main(["plot", "cosine_decay", "--out", str(out)]) == 0
    assert _is_png_with_content(tmp_path / "gallery.png")
    assert f"saved {out}.png" in capsys.readouterr().out


def test_cli_sweep_unwritable_out_is_a_clear_error(tmp_path):
    taken = tmp_path / "a_file"
    taken.write_text("")
    with pytest.raises(SystemExit, match="jaxsched sweep: .*a_file"):
        cli.main(["sweep", "--steps", "5", "--quiet", "--out", str(taken)])


def test_cli_sweep_with_an_optimizer_whose_every_run_diverges(tmp_path, capsys):
    out = tmp_path / "sweep"
    with jax.numpy_dtype_promotion("standard"):  # flax mixes dtypes internally
        code = cli.main(
            ["sweep", "--optimizers", "sgd,adam", "--lrs", "1e3,1e4,2"]
            + ["--steps", "20", "--seeds", "1", "--quiet", "--out", str(out)]
        )
    assert code == 0
    printed = capsys.readouterr().out
    assert "SGD, momentum 0.9" in printed and "every run diverged" in printed
    assert "val_loss mean | train_loss mean | diverged |" in printed
    assert js.SweepResult.load(out / "result").diverged.any()
    assert (out / "heatmap.png").exists() and (out / "best_curves.png").exists()


def test_cli_lr_find_with_too_few_steps_for_a_suggestion(tmp_path, capsys):
    out = tmp_path / "lr.png"
    code = cli.main(
        ["lr-find", "--optimizer", "sgd", "--steps", "16", "--out", str(out)]
    )
    assert code == 0
    assert "| no suggestion |" in capsys.readouterr().out
    assert _is_png_with_content(out)


def test_cli_plot_list_value_where_a_number_is_expected_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="give one value per hyperparameter"):
        cli.main(
            [
                "plot",
                "cosine_decay",
                "decay_steps=100,200",
                "--out",
                str(tmp_path / "x"),
            ]
        )


def test_cli_sweep_devices_makes_one_cpu_device_per_shard(tmp_path):
    # no XLA_FLAGS: `--devices 2` makes the two CPU devices itself
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    command = [sys.executable, "-m", "jaxsched.cli", "sweep", "--devices", "2"]
    small = ["--optimizers", "adam", "--lrs", "1e-3,1e-2,2", "--steps", "5"]
    result = subprocess.run(
        command + small + ["--seeds", "1", "--quiet", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "runs/s on 2 devices" in result.stdout
