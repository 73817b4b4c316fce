"""The LR range test on digits, then a training run at the suggested rate.

    python examples/lr_find_digits.py [--seeds 4] [--out lr_find_digits.png]

Four curves (minibatch keys) in one vmapped program; the suggestion is the median
over seeds of the steepest descent of the smoothed loss.
"""

import argparse

import jax
import matplotlib
import numpy as np

import jaxsched as js
from jaxsched import digits

matplotlib.use("Agg")


def main(seeds: int = 4, out: str = "lr_find_digits.png") -> float:
    data = digits.load()
    params = digits.init_mlp(jax.random.key(0))

    def curve(key):
        return js.lr_find(
            digits.loss,
            params,
            data.train,
            optimizer=js.adam,
            start_lr=1e-6,
            end_lr=10.0,
            num_steps=100,
            batch_size=128,
            key=key,
        )

    result = jax.vmap(curve)(jax.random.split(jax.random.key(1), seeds))
    lr = float(np.median(result.suggestion))
    print(
        {name: f"{float(np.median(v)):.3g}" for name, v in result.suggestions.items()}
    )
    trained, _ = jax.jit(lambda p: digits.train(js.adam(lr), p, data, 200))(params)
    acc = float(digits.accuracy(trained, data.val))
    print(
        f"suggested learning rate {lr:.3g}: validation accuracy {acc:.4f} "
        "after 200 full-batch steps"
    )
    result.plot().figure.savefig(out, dpi=100)
    print(f"saved {out}")
    return acc


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--out", default="lr_find_digits.png")
    args = parser.parse_args()
    main(args.seeds, args.out)
