"""Synthetic run tables from known laws, for the statistics tests.

L(N, D) = E + A/N^α + B/D^β with multiplicative seed noise: each run gets
exp(σ·ε_run + σ_seed·ε_seed), ε_seed shared by every configuration trained with
that seed (same init stream and data order), as in the real grid.
"""

from __future__ import annotations

import numpy as np

from pytest_scaling.runs import Checkpoint, RunResult, RunSpec, RunTable

WIDTHS = (2, 3, 4, 6, 8, 11, 16, 23, 32, 45, 64, 91, 128)
TOTAL = 60000
TRUE = dict(E=0.25, A=10.0, B=5.0, alpha=0.35, beta=0.3)


def params(w):
    """Roughly quadratic in width at large width, like the CNN family."""
    w = np.asarray(w, float)
    return (100 * w * w + 800 * w).astype(int)


def flops_per_example(w):
    w = np.asarray(w, float)
    return (2000 * w * w + 15000 * w).astype(int)


def law(N, D, E=0.25, A=10.0, B=5.0, alpha=0.35, beta=0.3):
    return E + A / np.asarray(N, float) ** alpha + B / np.asarray(D, float) ** beta


def error_rate(loss):
    """A monotone map loss → error rate in (0, 0.9)."""
    return np.minimum(0.9, 0.2 * np.asarray(loss) ** 1.4)


def make_grid(widths=WIDTHS[:11], n_fractions: int = 7, seeds=(0, 1, 2), sigma: float = 0.03,
              sigma_seed: float = 0.01, rng=None, dropout: float = 0.0, law_kw: dict | None = None,
              seed_effects: np.ndarray | None = None, checkpoints: int = 0, diverged: set | None = None) -> RunTable:
    """A (width × fraction × seed) grid of runs from :func:`law` with seed noise.

    ``seed_effects`` (one per seed) lets two conditions share per-seed noise (paired designs).
    ``checkpoints`` > 0 adds that many log-spaced checkpoints (the last one the final loss).
    """
    rng = np.random.default_rng(rng)
    law_kw = dict(law_kw or {})
    seeds = tuple(seeds)
    if seed_effects is None:
        seed_effects = rng.normal(0, sigma_seed, len(seeds))
    runs = []
    for w in widths:
        N = int(params(w))
        fpe = int(flops_per_example(w))
        for j in range(n_fractions):
            frac = 2.0 ** -j
            D = int(TOTAL * frac)
            for si, s in enumerate(seeds):
                noise = sigma * rng.normal() + seed_effects[si]
                L = float(law(N, D, **law_kw) * np.exp(noise))
                acc = float(1 - error_rate(L))
                ck = ()
                if checkpoints:
                    ex = np.unique(np.geomspace(max(D / 2 ** (checkpoints - 1), 16), D, checkpoints).astype(int))
                    ck = tuple(Checkpoint(int(e), float(law(N, e, **law_kw) * np.exp(noise + 0.005 * rng.normal())),
                                          acc) for e in ex[:-1]) + (Checkpoint(D, L, acc),)
                div = bool(diverged and (w, j, s) in diverged)
                runs.append(RunResult(
                    spec=RunSpec(width=int(w), fraction=frac, seed=int(s), dropout=dropout),
                    params=N, flops_per_example=fpe, examples=D,
                    val_loss=float("nan") if div else L, val_acc=acc, diverged=div, checkpoints=ck,
                ))
    return RunTable(runs)


def lr_loss(w, lr_mult, m0=1.0, s=0.1, kappa=0.05):
    """Loss of an LR sweep: a parabola in ln lr_mult around ln m* = ln m0 + s·ln w."""
    base = law(params(w), TOTAL / 4)
    return base * (1 + kappa * (np.log(lr_mult) - (np.log(m0) + s * np.log(w))) ** 2)


def make_lr_sweep(widths=(4, 11, 32), mults=tuple(2.0 ** k for k in range(-3, 4)), seeds=(0, 1, 2),
                  sigma: float = 0.01, m0: float = 1.0, s: float = 0.1, rng=None, lr_scale: float = 0.06) -> RunTable:
    """LR sweep at fraction 1/4: the true slope of ln LR* on ln fan_in is −0.5 + s."""
    rng = np.random.default_rng(rng)
    runs = []
    for w in widths:
        for m in mults:
            for sd in seeds:
                L = float(lr_loss(w, m, m0, s) * np.exp(sigma * rng.normal()))
                runs.append(RunResult(
                    spec=RunSpec(width=int(w), fraction=0.25, seed=int(sd), lr_mult=float(m), lr_scale=lr_scale),
                    params=int(params(w)), flops_per_example=int(flops_per_example(w)), examples=TOTAL // 4,
                    val_loss=L, val_acc=float(1 - error_rate(L)),
                ))
    return RunTable(runs)


def law_frontier_slope(law_kw: dict | None = None, **grid_kw) -> float:
    """The law's own frontier slope over this design: the Pareto envelope of the exact law at every
    configuration of :func:`make_grid` and its log-log OLS slope, computed from the law (no estimator)."""
    from pytest_scaling import fits

    clean = make_grid(rng=0, sigma=0, sigma_seed=0, seeds=(0,), law_kw=law_kw, **grid_kw)
    C = np.array([r.flops for r in clean], float)
    L = np.array([r.val_loss for r in clean], float)
    on = fits.frontier(C, L)
    return float(np.polyfit(np.log(C[on]), np.log(L[on]), 1)[0])
