"""Extrapolating the largest model's loss, with and without intermediate checkpoints."""

from __future__ import annotations

import numpy as np

from pytest_scaling import fits
from pytest_scaling.bootstrap import Cells, seed_bootstrap
from pytest_scaling.claims import Estimate
from pytest_scaling.errors import FitError
from pytest_scaling.estimators.common import _estimate, cells_from_runs


def _extrapolation_split(cells: Cells) -> tuple[np.ndarray, int]:
    """Cells to fit on (every width below the largest) and the one to predict (largest width, most data)."""
    w = cells.design["width"]
    train = np.flatnonzero(w < w.max())
    if train.size == 0:
        raise FitError("extrapolation needs smaller widths to fit on and a larger one to predict.")
    largest = np.flatnonzero(w == w.max())
    return train, int(largest[np.argmax(cells.design["fraction"][largest])])


def extrapolation_are(runs, use_checkpoints: bool = False, *, n_resamples: int = 200, seed: int = 0,
                      scheme: str = "auto", min_checkpoint_fraction: float = 0.1,
                      starts: np.ndarray | None = None) -> Estimate:
    """Absolute relative error of predicting the largest model's final loss.

    Fits L = E + A/N^α + B/D^β (:func:`fits.fit_chinchilla`) on every smaller
    width — final losses only, or also intermediate checkpoints (those after
    ``min_checkpoint_fraction`` of the run, as the Hitchhiker's Guide recommends
    skipping the earliest) — and predicts the largest width at its largest data
    fraction. ARE = |L̂ − L| / L. Bootstrap resamples refit from the full-data
    optimum, all at once.
    """
    cells = cells_from_runs(runs, checkpoints=use_checkpoints)
    train, target = _extrapolation_split(cells)
    wmax = cells.design["width"][target]
    N = cells.design["params"]
    if use_checkpoints:
        ex = cells.design["ckpt_examples"]
        valid = np.isfinite(ex) & (ex >= min_checkpoint_fraction * cells.design["examples"][:, None])
        ci, vi = np.nonzero(valid[train])
        ci = train[ci]
        Dp = ex[ci, vi]
        last = np.array([np.flatnonzero(np.isfinite(ex[target]))[-1]])[0]
    else:
        ci, vi = train, np.zeros(train.size, int)
        Dp = cells.design["examples"][train]
        last = 0
    Np = N[ci]
    m = cells.means()
    full = fits.fit_chinchilla(Np, Dp, np.exp(m[ci, vi]), starts=starts)
    lnN, lnD = np.log(Np), np.log(Dp)
    Nt, Dt = N[target], cells.design["examples"][target]

    def stat(M):  # every resample (and the point estimate) refits from the full-data optimum
        th, _f, _ = fits.fit_chinchilla_batched(lnN, lnD, M[:, ci, vi], np.repeat(full.theta[None], M.shape[0], 0))
        E, A, B, al, be = fits._theta_to_params(th).T
        pred = E + A / Nt ** al + B / Dt ** be
        actual = np.exp(M[:, target, last])
        return np.abs(pred - actual) / actual

    res = seed_bootstrap(cells, stat, n_resamples=n_resamples, seed=seed, scheme=scheme)
    details = {"predicted": float(full.predict(Nt, Dt)), "actual": float(np.exp(m[target, last])),
               "target_width": float(wmax), "target_examples": float(Dt), "train_points": int(ci.size),
               "use_checkpoints": bool(use_checkpoints), "E": full.E, "alpha": full.alpha, "beta": full.beta}
    runs_used = int(cells.counts[np.unique(np.append(ci, target))].sum())
    q = "ARE of largest-model loss" + (" (with checkpoints)" if use_checkpoints else " (final losses)")
    return _estimate(res, q, runs_used, details)


def extrapolation_are_difference(runs, *, n_resamples: int = 200, seed: int = 0, scheme: str = "auto",
                                 min_checkpoint_fraction: float = 0.1,
                                 starts: np.ndarray | None = None) -> Estimate:
    """ARE(with intermediate checkpoints) − ARE(final losses only), paired on the same resamples.

    Both fits of :func:`extrapolation_are` run on every seed resample of one set of cells (each
    run's checkpoint curve, its last point the final loss), so seed noise shared by the two
    strategies cancels. Negative: checkpoints predict the largest model's final loss better.
    Every loss here is scored on one yardstick, the validation slice the intermediate checkpoints use:
    each run's final state is read on that slice too (``slice_loss``), so a fit to finals and a fit to
    checkpoints, and the target they predict, do not differ by the slice–full-split gap (~0.01–0.02
    nats, the size of the claim's margin). Records without a slice score keep their full-split final.
    """
    cells = cells_from_runs(runs, checkpoints=True, slice_final=True)
    ex = cells.design["ckpt_examples"]
    last = np.array([np.flatnonzero(np.isfinite(r))[-1] for r in ex])
    if not np.allclose(ex[np.arange(ex.shape[0]), last], cells.design["examples"]):
        raise FitError("the last checkpoint of some runs is not the final loss; cannot compare strategies.")
    train, target = _extrapolation_split(cells)
    N = cells.design["params"]
    Nt, Dt = N[target], cells.design["examples"][target]
    valid = np.isfinite(ex) & (ex >= min_checkpoint_fraction * cells.design["examples"][:, None])
    ci_k, vi_k = np.nonzero(valid[train])
    ci_k = train[ci_k]
    sets = {"checkpoints": (ci_k, vi_k, ex[ci_k, vi_k]), "final": (train, last[train], cells.design["examples"][train])}
    m = cells.means()
    prep, info = {}, {}
    for name, (ci, vi, Dp) in sets.items():
        f = fits.fit_chinchilla(N[ci], Dp, np.exp(m[ci, vi]), starts=starts)
        prep[name] = (ci, vi, np.log(N[ci]), np.log(Dp), f.theta)
        info[name] = {"predicted": float(f.predict(Nt, Dt)), "train_points": int(ci.size), "alpha": f.alpha,
                      "beta": f.beta, "E": f.E}
    store = {"checkpoints": [], "final": []}

    def stat(M):
        actual = np.exp(M[:, target, last[target]])
        for name, (ci, vi, lnN, lnD, th0) in prep.items():
            th, _, _ = fits.fit_chinchilla_batched(lnN, lnD, M[:, ci, vi], np.repeat(th0[None], M.shape[0], 0))
            E, A_, B_, al, be = fits._theta_to_params(th).T
            store[name].append(np.abs(E + A_ / Nt ** al + B_ / Dt ** be - actual) / actual)
        return store["checkpoints"][-1] - store["final"][-1]

    res = seed_bootstrap(cells, stat, n_resamples=n_resamples, seed=seed, scheme=scheme)
    actual = float(np.exp(m[target, last[target]]))
    details = {"actual": actual, "yardstick": "validation slice" if bool(np.all(cells.design["ckpt_final_on_slice"]))
               else "validation slice, full split for records without a slice score",
               "target_width": float(cells.design["width"][target]), "target_examples": float(Dt),
               "are_checkpoints": float(store["checkpoints"][0][0]), "are_final": float(store["final"][0][0]),
               "with_checkpoints": info["checkpoints"], "final_only": info["final"]}
    return _estimate(res, "ΔARE (checkpoints − final only)", cells.n_runs, details)
