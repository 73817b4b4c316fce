"""Sweep learning rate x warmup x weight decay with seeds, in one compiled program.

    python examples/sweep_digits.py [--steps 300] [--seeds 2] [--out sweep_digits.png]

AdamW on the digits MLP; the warmup length is a swept (traced) hyperparameter of
`warmup_cosine_decay`, not a static one. Prints the leaderboard and saves a
heatmap of learning rate x warmup (best over weight decays).
"""

import argparse

import matplotlib
import numpy as np

import jaxsched as js
from jaxsched import digits

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(steps: int = 300, seeds: int = 2, out: str = "sweep_digits.png"):
    data = digits.load()

    def train(hparams, key):
        schedule = js.schedules.warmup_cosine_decay(
            0.0, hparams["learning_rate"], hparams["warmup_steps"], steps
        )
        optimizer = js.adamw(schedule, weight_decay=hparams["weight_decay"])

        params, _ = digits.train_minibatch(optimizer, data, steps, key)
        return {
            "val_accuracy": digits.accuracy(params, data.val),
            "val_loss": digits.loss(params, data.val),
        }

    grid = js.grid(
        learning_rate=np.logspace(-3.5, -1, 6),
        warmup_steps=[0, steps // 10, steps // 3],
        weight_decay=[0.0, 1e-3],
    )
    result = js.sweep(train, grid, seeds=seeds)
    print(result.table("val_accuracy", top=8, mode="max"))
    best = result.best("val_accuracy", mode="max")
    print(f"best: {best}")
    fig, ax = plt.subplots(figsize=(7, 4))
    js.plot.sweep(
        result, x="learning_rate", y="warmup_steps", metric="val_accuracy", ax=ax
    )
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    print(
        f"{result.stats['runs']} runs in {result.stats['seconds']:.1f} s; saved {out}"
    )
    return best


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--out", default="sweep_digits.png")
    args = parser.parse_args()
    main(args.steps, args.seeds, args.out)
