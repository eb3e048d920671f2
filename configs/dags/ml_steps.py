"""Python steps of the example ML DAGs: a deterministic stand-in for training, so the examples run anywhere."""

from __future__ import annotations

import math


def train(lr: float, batch_size: int) -> dict[str, float]:
    """Pretend to train: accuracy peaks at lr=0.01 and grows a little with the batch size."""
    accuracy = 0.9 - 0.05 * abs(math.log10(lr) + 2) + batch_size / 2000
    return {"accuracy": round(accuracy, 4), "loss": round(1 - accuracy, 4)}


def report(ctx, train__best: dict, train__cells: list) -> dict[str, object]:
    """Summarise the search: the winning cell and how many cells ran (in the task's log)."""
    best = train__best["matrix"]
    ctx.log(f"best of {len(train__cells)} cells: lr={best['lr']} batch_size={best['batch_size']}")
    return {"best_lr": best["lr"], "best_batch_size": best["batch_size"], "accuracy": train__best["outputs"]["accuracy"]}


def fit_epoch(ctx) -> dict[str, float]:
    """One more epoch: the loss falls like 1/n^2, so the loop converges after a few iterations."""
    n = int(ctx.env["DAGCTL_ITERATION"])
    loss = round(1.0 / (n * n), 4)
    ctx.log(f"epoch {n}: loss {loss}")
    return {"loss": loss, "epochs": n}
