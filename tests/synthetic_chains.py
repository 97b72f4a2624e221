"""Synthetic chains: runs read off one trajectory per (width, seed), as the engine trains them.

L(N, D) = E + A/N^α + B/D^β along each width's one-epoch trajectory, scored every
half-octave of steps (like ``TrainSettings.checkpoint_fractions``); the runs at fractions
1/2^j are prefixes of it. FLOPs per example are c·N^k exactly (k = 1.5 as for the
exercise's CNN), so the law's compute-optimal exponent is γ = β/(α + kβ) and its
iso-compute optimum is known in closed form.

Noise is as uneven as real runs': per trajectory an AR(1) process along ln D (ρ between
neighbouring half-octaves), its sd growing at small D (the early, fast-falling part of
training is the noisiest) — ``sigma · (1 + boost · (D_small/D)^0.5)``.
"""

from __future__ import annotations

import numpy as np

from pytest_scaling.runs import Checkpoint, RunResult, RunSpec, RunTable

TOTAL = 60000
BATCH = 64
WIDTHS = (1, 2, 3, 4, 6, 8, 11, 16, 23, 32)
K = 1.5
FPE_C = 0.65
LAW = dict(E=0.2, A=30.0, B=12.0, alpha=0.5, beta=0.35)


def params(w):
    w = np.asarray(w, float)
    return (40 * w * w + 1000 * w).astype(int)


def fpe(N):
    return FPE_C * np.asarray(N, float) ** K


def law(N, D, E, A, B, alpha, beta):
    return E + A / np.asarray(N, float) ** alpha + B / np.asarray(D, float) ** beta


def true_gamma(law_kw=LAW) -> float:
    return law_kw["beta"] / (law_kw["alpha"] + K * law_kw["beta"])


def true_nopt(C, law_kw=LAW):
    """N minimising the law at compute C = 3·fpe(N)·D (unconstrained): ∂/∂N of
    A·N^−α + B·(3c)^β·C^−β·N^(kβ) vanishes at N^(α+kβ) = αA·C^β / (kβB·(3c)^β)."""
    a, b, A, B = law_kw["alpha"], law_kw["beta"], law_kw["A"], law_kw["B"]
    c3 = 3 * FPE_C
    return (a * A / (K * b * B * c3 ** b)) ** (1 / (a + K * b)) * np.asarray(C, float) ** (b / (a + K * b))


def steps_grid(fraction=1.0):
    """Scored steps of a run on ``fraction``: half-octaves down to 1/512, at least one batch, and the end."""
    end = int(fraction * TOTAL) // BATCH
    marks = {int(fraction * TOTAL * 2.0 ** (-j / 2)) // BATCH for j in range(1, 19)
             if fraction * TOTAL * 2.0 ** (-j / 2) >= BATCH}
    return sorted(m for m in marks if m < end) + [end]


def make_chains(widths=WIDTHS, n_fractions=7, seeds=(0, 1), sigma=0.02, rho=0.9, boost=2.0, law_kw=LAW,
                rng=None, dropout=0.0, seed_effects=None) -> RunTable:
    """Runs at fractions 1, 1/2, … 1/2^(n_fractions−1) read off one noisy trajectory per (width, seed)."""
    rng = np.random.default_rng(rng)
    steps = np.array(steps_grid(1.0))
    D = steps * BATCH
    sd = sigma * (1 + boost * np.sqrt(D.min() / D))
    runs = []
    for w in widths:
        N = int(params(w))
        f = int(round(float(fpe(N))))
        clean = law(N, D, **law_kw)
        for si, s in enumerate(seeds):
            z = np.empty(D.size)
            z[0] = rng.normal()
            for i in range(1, D.size):
                z[i] = rho * z[i - 1] + np.sqrt(1 - rho ** 2) * rng.normal()
            shift = 0.0 if seed_effects is None else seed_effects[si]
            traj = clean * np.exp(sd * z + shift)
            at = dict(zip(steps.tolist(), traj.tolist()))
            full_offset = np.exp(0.003 * rng.normal())  # the full split differs a little from the slice
            for j in range(n_fractions):
                frac = 2.0 ** -j
                own = steps_grid(frac)
                ck = tuple(Checkpoint(int(st * BATCH), float(at[st]), 0.5) for st in own[:-1])
                end = own[-1]
                L = float(at[end] * full_offset)
                ck = ck + (Checkpoint(int(end * BATCH), L, 0.5),)
                runs.append(RunResult(spec=RunSpec(width=int(w), fraction=frac, seed=int(s), dropout=dropout),
                                      params=N, flops_per_example=f, examples=int(end * BATCH), val_loss=L,
                                      val_acc=0.5, checkpoints=ck, slice_loss=float(at[end]), slice_acc=0.5))
    return RunTable(runs)


def _envelope(lo, hi, law_kw, widths, points):
    C = np.geomspace(lo, hi, points)
    curves = []
    for w in widths:
        N = int(params(w))
        D = C / (3 * round(float(fpe(N))))
        curves.append(np.where((D >= BATCH) & (D <= TOTAL), law(N, D, **law_kw), np.inf))
    best = np.min(curves, axis=0)
    if not np.all(np.isfinite(best)):
        raise ValueError(f"no width reaches every compute in {lo:.3g}–{hi:.3g}")
    return np.log(C), np.log(best)


def envelope_curvature(lo, hi, law_kw=LAW, widths=WIDTHS, points: int = 400) -> float:
    """The law's own relative bend over [lo, hi]: 2·c₂·(ln hi − ln lo)/|s| of the quadratic and straight
    fits of the envelope's log on ln C (the quantity ``frontier_curvature`` estimates)."""
    x, y = _envelope(lo, hi, law_kw, widths, points)
    c2 = np.polyfit(x - x.mean(), y, 2)[0]
    s = np.polyfit(x, y, 1)[0]
    return float(2 * c2 * (x[-1] - x[0]) / abs(s))


def envelope_slope(lo, hi, law_kw=LAW, widths=WIDTHS, points: int = 400) -> float:
    """The law's own frontier slope over [lo, hi]: at each compute the lowest loss over the widths
    (each read at D = C / (3·fpe), where its one-epoch trajectory reaches that D: from one batch to
    the whole training set), the OLS slope of its log on ln C over a dense grid. Computed from the law,
    not through any estimator."""
    x, y = _envelope(lo, hi, law_kw, widths, points)
    return float(np.polyfit(x, y, 1)[0])
