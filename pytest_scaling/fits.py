"""Pure fits on arrays: power laws, the saturating law, the frontier, the Chinchilla
parametric form, IsoFLOP parabolas, the LR optimum and extrapolation error.

Nothing here knows about runs or seeds; ``analysis.py`` turns run tables into
arrays and ``bootstrap.py`` supplies the uncertainty. Every fitter validates its
input and raises :class:`~pytest_scaling.errors.FitError` (a ``ValueError``) with
a message saying what to do, instead of returning NaN.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.optimize
import scipy.stats
import statsmodels.api as sm

from pytest_scaling.errors import FitError

__all__ = [
    "PowerLawFit", "SaturatingFit", "ChinchillaFit", "IsoflopFit", "LROptimum",
    "fit_power_law", "fit_saturating", "frontier", "fit_chinchilla", "chinchilla_objective",
    "chinchilla_grid", "batched_lbfgs", "fit_isoflop_parabola", "fit_lr_optimum",
    "absolute_relative_error", "lr_window", "frontier_mask_batched", "fit_chinchilla_batched",
    "lr_level_weights", "lr_vertex",
]


# --------------------------------------------------------------------------- validation

def _as_1d(name: str, values) -> np.ndarray:
    arr = np.asarray(values, dtype=float).reshape(-1)
    if not np.all(np.isfinite(arr)):
        raise FitError(f"{name} contains NaN or inf values; drop diverged runs first (runs.usable()).")
    return arr


def _positive(name: str, arr: np.ndarray) -> np.ndarray:
    if np.any(arr <= 0):
        raise FitError(
            f"{name} has non-positive values ({arr[arr <= 0][:3].tolist()}...); a log-space fit needs "
            f"strictly positive values. Drop those points or fit in linear space."
        )
    return arr


def _enough(n: int, k: int, what: str) -> None:
    if n < k:
        raise FitError(
            f"{what} needs at least {k} points, got {n}. Add more sizes/compute levels to the grid "
            f"(a larger --scaling-budget) or widen the fit region."
        )


# --------------------------------------------------------------------------- power law

@dataclass(frozen=True)
class PowerLawFit:
    """y = prefactor · x^slope, fitted by OLS of ln y on ln x (statsmodels)."""

    slope: float
    prefactor: float
    r2: float
    residuals: np.ndarray = field(repr=False)
    slope_se: float
    df_resid: float
    n: int
    result: object = field(repr=False, compare=False)

    @property
    def intercept(self) -> float:
        return float(np.log(self.prefactor))

    def slope_ci(self, level: float = 0.95) -> tuple[float, float]:
        """t-interval for the slope (valid when log residuals are iid normal)."""
        lo, hi = self.result.conf_int(alpha=1 - level)[1]
        return float(lo), float(hi)

    def predict(self, x) -> np.ndarray:
        return self.prefactor * np.asarray(x, dtype=float) ** self.slope

    def __float__(self) -> float:
        return self.slope


def fit_power_law(x, y, weights=None) -> PowerLawFit:
    """Log-log OLS. Needs ≥3 points so the slope has a t-interval (df ≥ 1)."""
    x = _positive("x", _as_1d("x", x))
    y = _positive("y", _as_1d("y", y))
    if x.shape != y.shape:
        raise FitError(f"x and y differ in length ({x.size} vs {y.size}).")
    _enough(x.size, 3, "a power-law fit (2 parameters + 1 for its interval)")
    if np.ptp(np.log(x)) == 0:
        raise FitError("all x values are equal; a power law needs at least two distinct x values.")
    X = sm.add_constant(np.log(x))
    model = sm.OLS(np.log(y), X) if weights is None else sm.WLS(np.log(y), X, weights=np.asarray(weights, float))
    res = model.fit()
    return PowerLawFit(
        slope=float(res.params[1]), prefactor=float(np.exp(res.params[0])), r2=float(res.rsquared),
        residuals=np.asarray(res.resid), slope_se=float(res.bse[1]), df_resid=float(res.df_resid),
        n=int(x.size), result=res,
    )


# --------------------------------------------------------------------------- saturating law

@dataclass(frozen=True)
class SaturatingFit:
    """L = E + A·x^(−alpha), fitted in log space, compared with the pure power law."""

    E: float
    A: float
    alpha: float
    sse_log: float
    power_law: PowerLawFit = field(repr=False)
    sse_log_power: float
    aic: float
    aic_power: float
    bic: float
    bic_power: float
    f_stat: float
    f_pvalue: float
    n: int

    @property
    def better(self) -> str:
        """Which form the data prefer by AIC ('saturating' or 'power')."""
        return "saturating" if self.aic < self.aic_power else "power"

    @property
    def delta_aic(self) -> float:
        """AIC(power) − AIC(saturating): positive means the saturating law fits better."""
        return self.aic_power - self.aic

    def predict(self, x) -> np.ndarray:
        return self.E + self.A * np.asarray(x, dtype=float) ** (-self.alpha)

    def comparison(self) -> dict:
        return {
            "better": self.better, "sse_log": self.sse_log, "sse_log_power": self.sse_log_power,
            "delta_aic": self.delta_aic, "delta_bic": self.bic_power - self.bic,
            "f_stat": self.f_stat, "f_pvalue": self.f_pvalue,
        }


def _gauss_ic(sse: float, n: int, k: int) -> tuple[float, float]:
    """Gaussian AIC/BIC from a residual sum of squares (constants dropped)."""
    ll = n * np.log(max(sse, 1e-300) / n)
    return ll + 2 * k, ll + k * np.log(n)


def fit_saturating(x, y, start=None) -> SaturatingFit:
    """Least squares of ln y on ln(E + A·x^−α) with E ∈ [0, min y); x is rescaled internally.

    The pure power law is the E = 0 special case, so the comparison is nested: an
    F-test with (1, n−3) degrees of freedom plus AIC/BIC on the log-space SSE.
    """
    x = _positive("x", _as_1d("x", x))
    y = _positive("y", _as_1d("y", y))
    _enough(x.size, 4, "a saturating fit (3 parameters + 1 for the comparison)")
    pl = fit_power_law(x, y)
    x0 = float(np.exp(np.mean(np.log(x))))
    u = np.log(x / x0)
    ly = np.log(y)
    ymin = float(y.min())

    def resid(p):
        E, lnA, alpha = p
        return np.log(E + np.exp(lnA - alpha * u)) - ly

    best = None
    alpha0 = max(-pl.slope, 1e-3)
    starts = []
    if start is not None:  # (E, A, alpha) in original units: a warm start, used alone
        E0, A0, a0 = start
        starts.append((E0, np.log(max(A0, 1e-300)) - a0 * np.log(x0), a0))
    else:
        for frac in (0.0, 0.3, 0.6, 0.9):
            E0 = frac * ymin
            A0 = max(float(np.exp(np.mean(ly))) - E0, 1e-6 * ymin)
            for a in (alpha0, 2 * alpha0, 0.5 * alpha0):
                starts.append((E0, np.log(A0), a))
    for p0 in starts:
        p0 = np.array(p0, float)
        p0[0] = min(max(p0[0], 0.0), ymin * (1 - 1e-9))
        try:
            r = scipy.optimize.least_squares(
                resid, p0, bounds=([0.0, -np.inf, 0.0], [ymin * (1 - 1e-12), np.inf, 20.0]),
                method="trf", x_scale="jac", xtol=1e-12, ftol=1e-12, gtol=1e-12,
            )
        except ValueError:
            continue
        if best is None or r.cost < best.cost:
            best = r
    if best is None or not np.all(np.isfinite(best.x)):
        raise FitError("saturating fit failed from every start; check the data span more than one decade.")
    E, lnA, alpha = best.x
    n = x.size
    sse = float(2 * best.cost)
    sse_pl = float(np.sum(pl.residuals ** 2))
    aic, bic = _gauss_ic(sse, n, 3)
    aic_pl, bic_pl = _gauss_ic(sse_pl, n, 2)
    df2 = n - 3
    if df2 > 0 and sse > 0:
        f = max((sse_pl - sse) / (sse / df2), 0.0)
        fp = float(scipy.stats.f.sf(f, 1, df2))
    else:
        f, fp = float("inf"), 0.0
    return SaturatingFit(
        E=float(E), A=float(np.exp(lnA) * x0 ** alpha), alpha=float(alpha), sse_log=sse, power_law=pl,
        sse_log_power=sse_pl, aic=float(aic), aic_power=float(aic_pl), bic=float(bic), bic_power=float(bic_pl),
        f_stat=float(f), f_pvalue=fp, n=int(n),
    )


# --------------------------------------------------------------------------- frontier

def frontier(compute, loss) -> np.ndarray:
    """Indices of the compute-efficient frontier, sorted by compute.

    A point is on the frontier when no point with less or equal compute has a
    lower (or equal, earlier) loss: the Pareto lower envelope.
    """
    c = _as_1d("compute", compute)
    l = _as_1d("loss", loss)  # noqa: E741 - c and l read as the plot's two axes
    if c.shape != l.shape:
        raise FitError(f"compute and loss differ in length ({c.size} vs {l.size}).")
    if c.size == 0:
        raise FitError("frontier of zero points; no usable runs (all diverged?).")
    order = np.lexsort((l, c))
    ls = l[order]
    prev_min = np.concatenate(([np.inf], np.minimum.accumulate(ls)[:-1]))
    return order[ls < prev_min]


def frontier_mask_batched(loss_sorted: np.ndarray) -> np.ndarray:
    """Frontier membership for a batch ``[B, n]`` of losses already sorted by compute."""
    prev = np.minimum.accumulate(loss_sorted, axis=-1)
    prev = np.concatenate([np.full(loss_sorted.shape[:-1] + (1,), np.inf), prev[..., :-1]], axis=-1)
    return loss_sorted < prev


# --------------------------------------------------------------------------- Chinchilla

def chinchilla_objective(theta: np.ndarray, lnN: np.ndarray, lnD: np.ndarray, lnL: np.ndarray,
                         delta: float = 1e-3, weights: np.ndarray | None = None, block: int = 1 << 15):
    """Batched Huber objective and analytic gradient.

    ``theta`` is ``[S, 5]`` = (a, b, e, alpha, beta); predicted ln L =
    LSE(a − α lnN, b − β lnD, e). ``lnL`` is ``[n]`` or ``[S, n]`` (bootstrap
    resamples); ``weights`` ``[n]`` or ``[S, n]``. Each row's objective depends
    only on its own parameters, so the rows are independent problems. Rows are
    processed in cache-sized blocks.
    """
    S, n = theta.shape[0], lnN.size
    rows = max(1, block // max(n, 1))
    if S > rows:
        fs, gs = [], []
        for i in range(0, S, rows):
            y = lnL[i:i + rows] if np.ndim(lnL) == 2 else lnL
            w = weights[i:i + rows] if weights is not None and np.ndim(weights) == 2 else weights
            f, g = chinchilla_objective(theta[i:i + rows], lnN, lnD, y, delta, w, block)
            fs.append(f)
            gs.append(g)
        return np.concatenate(fs), np.concatenate(gs)
    a, b, e, al, be = (theta[:, i:i + 1] for i in range(5))
    t1 = a - e - al * lnN                         # log-terms relative to the e term
    t2 = b - e - be * lnD
    m = None
    if max(t1.max(initial=-np.inf), t2.max(initial=-np.inf)) > 700:   # overflow guard: shift by the max
        m = np.maximum(np.maximum(t1, t2), 0.0)
    if m is not None:
        t1 -= m
        t2 -= m
        x3 = np.exp(-m)
    x1 = np.exp(t1, out=t1)
    x2 = np.exp(t2, out=t2)
    s = x1 + x2
    s += 1.0 if m is None else x3
    r = np.log(s)
    r += e if m is None else m + e
    r -= lnL                                      # residual of ln L
    c = np.clip(r, -delta, delta)                 # Huber derivative
    r -= 0.5 * c
    r *= c                                        # Huber loss c·(r − c/2)
    if weights is not None:
        r *= weights
        c *= weights
    f = r.sum(axis=1)
    c /= s
    x1 *= c
    x2 *= c
    g3 = c.sum(1) if m is None else (x3 * c).sum(1)
    g = np.stack([x1.sum(1), x2.sum(1), g3, -(x1 @ lnN), -(x2 @ lnD)], axis=1)
    return f, g


def batched_lbfgs(fg, x0: np.ndarray, *, memory: int = 10, max_iter: int = 1000, gtol: float = 1e-9,
                  ftol: float = 1e-10, c1: float = 1e-4, max_backtrack: int = 40, bound=np.inf,
                  f_floor: float = 1e-6, xtol: float = 1e-10):
    """L-BFGS on ``S`` independent problems at once (rows of ``x0``).

    ``fg(x, idx)`` returns objective ``[k]`` and gradient ``[k, d]`` for the rows
    ``idx``. Each row has its own curvature history and its own backtracking
    (Armijo) line search, so one row never slows or perturbs another; rows that
    converge drop out of the batch, and so do rows running off to |x| > ``bound``
    (a start heading for a degenerate optimum at infinity). A row converges when
    its objective changes by ≤ ftol·max(|f|, f_floor), its gradient is ≤ gtol or
    its step is ≤ xtol·(1 + |x|).
    Returns ``(x, f, n_iter)``.
    """
    x = np.array(x0, dtype=float)
    S, d = x.shape
    all_idx = np.arange(S)
    f, g = fg(x, all_idx)
    f = f.copy()
    g = g.copy()
    s_hist = np.zeros((S, memory, d))
    y_hist = np.zeros((S, memory, d))
    rho = np.zeros((S, memory))
    active = np.isfinite(f)
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - the count of iterations run is returned
        idx = all_idx[active]
        if idx.size == 0:
            break
        q = g[idx].copy()
        sh, yh, rh = s_hist[idx], y_hist[idx], rho[idx]
        alphas = np.zeros((idx.size, memory))
        for j in range(memory - 1, -1, -1):          # newest first
            alphas[:, j] = rh[:, j] * np.einsum("kd,kd->k", sh[:, j], q)
            q -= alphas[:, j:j + 1] * yh[:, j]
        sy = np.einsum("kd,kd->k", sh[:, -1], yh[:, -1])
        yy = np.einsum("kd,kd->k", yh[:, -1], yh[:, -1])
        gnorm = np.linalg.norm(g[idx], axis=1)
        gamma = np.where(rh[:, -1] > 0, sy / np.maximum(yy, 1e-300), 1.0 / np.maximum(gnorm, 1e-300))
        r = gamma[:, None] * q
        for j in range(memory):                      # oldest first
            beta = rh[:, j] * np.einsum("kd,kd->k", yh[:, j], r)
            r += sh[:, j] * (alphas[:, j] - beta)[:, None]
        direc = -r
        gd = np.einsum("kd,kd->k", g[idx], direc)
        bad = ~(gd < 0) | ~np.all(np.isfinite(direc), axis=1)
        if np.any(bad):                              # not a descent direction: restart on steepest descent
            direc[bad] = -g[idx][bad] / np.maximum(gnorm[bad], 1e-300)[:, None]
            rho[idx[bad]] = 0.0
            gd[bad] = np.einsum("kd,kd->k", g[idx][bad], direc[bad])
        step = np.ones(idx.size)
        f_new = np.full(idx.size, np.inf)
        g_new = np.zeros((idx.size, d))
        pending = np.arange(idx.size)
        for _ in range(max_backtrack):
            xt = x[idx[pending]] + step[pending, None] * direc[pending]
            ft, gt = fg(xt, idx[pending])
            ok = np.isfinite(ft) & (ft <= f[idx[pending]] + c1 * step[pending] * gd[pending])
            acc = pending[ok]
            f_new[acc] = ft[ok]
            g_new[acc] = gt[ok]
            rej, ft_rej = pending[~ok], ft[~ok]
            pending = rej
            if pending.size == 0:
                break
            # minimiser of the quadratic through f(0), f'(0) and f(t), kept in [0.1 t, 0.5 t]
            t = step[pending]
            denom = 2 * (ft_rej - f[idx[pending]] - gd[pending] * t)
            tq = np.where(np.isfinite(ft_rej) & (denom > 0),
                          -gd[pending] * t * t / np.where(denom > 0, denom, 1), 0.5 * t)
            step[pending] = np.clip(tq, 0.1 * t, 0.5 * t)
        failed = np.zeros(idx.size, bool)
        failed[pending] = True
        moved = ~failed
        mi = idx[moved]
        s_vec = step[moved, None] * direc[moved]
        y_vec = g_new[moved] - g[mi]
        sy_new = np.einsum("kd,kd->k", s_vec, y_vec)
        x[mi] += s_vec
        f_old = f[mi].copy()
        f[mi] = f_new[moved]
        g[mi] = g_new[moved]
        good = (sy_new > 1e-12 * np.linalg.norm(s_vec, axis=1) * np.linalg.norm(y_vec, axis=1)) & (sy_new > 1e-280)
        upd = mi[good]
        s_hist[upd] = np.roll(s_hist[upd], -1, axis=1)
        y_hist[upd] = np.roll(y_hist[upd], -1, axis=1)
        rho[upd] = np.roll(rho[upd], -1, axis=1)
        s_hist[upd, -1] = s_vec[good]
        y_hist[upd, -1] = y_vec[good]
        rho[upd, -1] = 1.0 / sy_new[good]
        conv = (np.abs(f_old - f[mi]) <= ftol * np.maximum(np.maximum(np.abs(f_old), np.abs(f[mi])), f_floor)) \
            | (np.max(np.abs(g[mi]), axis=1) <= gtol) \
            | (np.max(np.abs(s_vec), axis=1) <= xtol * (1 + np.max(np.abs(x[mi]), axis=1)))
        active[mi[conv]] = False
        active[mi[np.any(np.abs(x[mi]) > bound, axis=1)]] = False
        # a row whose line search failed after a fresh restart is stuck: stop it
        stuck = idx[failed]
        fresh = rho[stuck, -1] == 0
        active[stuck[fresh]] = False
        rho[stuck] = 0.0
    return x, f, it


def chinchilla_grid() -> np.ndarray:
    """The starting grid Chinchilla (Hoffmann et al. 2022, App. D.2) and Epoch AI used.

    α, β ∈ {0, 0.5, …, 2}, e ∈ {−1, −0.5, …, 1}, a, b ∈ {0, 5, …, 25}: 4500 starts.
    """
    al = np.arange(0, 2.01, 0.5)
    e = np.arange(-1, 1.01, 0.5)
    a = np.arange(0, 25.01, 5)
    g = np.stack(np.meshgrid(a, a, e, al, al, indexing="ij"), axis=-1).reshape(-1, 5)
    return g  # columns (a, b, e, alpha, beta)


@dataclass(frozen=True)
class ChinchillaFit:
    """L = E + A/N^alpha + B/D^beta fitted the Chinchilla/Epoch way."""

    E: float
    A: float
    B: float
    alpha: float
    beta: float
    objective: float
    theta: np.ndarray = field(repr=False)  # (a, b, e, alpha, beta)
    n: int
    n_starts: int
    bootstrap: np.ndarray | None = field(default=None, repr=False)  # [B, 5] (E, A, B, alpha, beta)

    @property
    def a(self) -> float:
        """Compute-optimal exponent of N: N_opt ∝ C^a, a = β/(α+β)."""
        return self.beta / (self.alpha + self.beta)

    @property
    def b(self) -> float:
        """Compute-optimal exponent of D: D_opt ∝ C^b, b = α/(α+β)."""
        return self.alpha / (self.alpha + self.beta)

    def predict(self, N, D) -> np.ndarray:
        N = np.asarray(N, float)
        D = np.asarray(D, float)
        return self.E + self.A / N ** self.alpha + self.B / D ** self.beta

    def ci(self, name: str, level: float = 0.95) -> tuple[float, float]:
        """Percentile bootstrap interval of E, A, B, alpha, beta, a or b (needs ``bootstrap=``)."""
        if self.bootstrap is None:
            raise FitError("this fit has no bootstrap; call fit_chinchilla(..., bootstrap=1000).")
        cols = {"E": 0, "A": 1, "B": 2, "alpha": 3, "beta": 4}
        bs = self.bootstrap
        if name in cols:
            v = bs[:, cols[name]]
        elif name == "a":
            v = bs[:, 4] / (bs[:, 3] + bs[:, 4])
        elif name == "b":
            v = bs[:, 3] / (bs[:, 3] + bs[:, 4])
        else:
            raise KeyError(name)
        q = (1 - level) / 2
        lo, hi = np.quantile(v, [q, 1 - q])
        return float(lo), float(hi)


def _theta_to_params(theta: np.ndarray) -> np.ndarray:
    """(a, b, e, α, β) → (E, A, B, α, β), row-wise."""
    theta = np.atleast_2d(theta)
    return np.stack([np.exp(theta[:, 2]), np.exp(theta[:, 0]), np.exp(theta[:, 1]), theta[:, 3], theta[:, 4]], 1)


def fit_chinchilla_batched(lnN, lnD, lnL, starts: np.ndarray, delta: float = 1e-3,
                           weights: np.ndarray | None = None, max_iter: int = 300):
    """Optimise every row of ``starts`` at once; ``lnL``/``weights`` may be per-row ``[S, n]``."""
    lnL = np.asarray(lnL, float)
    per_row_y = lnL.ndim == 2
    per_row_w = weights is not None and np.ndim(weights) == 2

    def fg(th, idx):
        y = lnL[idx] if per_row_y else lnL
        w = (weights[idx] if per_row_w else weights)
        return chinchilla_objective(th, lnN, lnD, y, delta, w)

    # exponents beyond 50 or log-coefficients beyond 500 are degenerate (a term vanishing for all data)
    return batched_lbfgs(fg, starts, max_iter=max_iter, bound=np.array([500.0, 500.0, 500.0, 50.0, 50.0]))


def fit_chinchilla(N, D, loss, *, delta: float = 1e-3, starts: np.ndarray | None = None,
                   bootstrap: int = 0, seed: int = 0, polish: bool = True) -> ChinchillaFit:
    """Fit L = E + A/N^α + B/D^β as Chinchilla and Epoch AI's replication did.

    Log space, LogSumExp parameterization, Huber loss (δ = 1e-3) on the log
    residuals, L-BFGS from :func:`chinchilla_grid` — all starts optimised at once
    by :func:`batched_lbfgs` (≤300 iterations each: starts still crawling by then
    are in flat, degenerate valleys far above the best), and the best optimum is
    polished with scipy's L-BFGS-B to tight tolerances.
    ``bootstrap=B`` adds a point-resampling bootstrap (all resamples optimised at
    once, warm-started at the optimum); for seed uncertainty use ``analysis``.
    """
    N = _positive("N", _as_1d("N", N))
    D = _positive("D", _as_1d("D", D))
    L = _positive("loss", _as_1d("loss", loss))
    if not (N.size == D.size == L.size):
        raise FitError(f"N, D and loss differ in length ({N.size}, {D.size}, {L.size}).")
    _enough(N.size, 6, "a Chinchilla fit (5 parameters + 1)")
    if np.ptp(np.log(N)) == 0 or np.ptp(np.log(D)) == 0:
        raise FitError("a Chinchilla fit needs several distinct N and several distinct D values.")
    lnN, lnD, lnL = np.log(N), np.log(D), np.log(L)
    st = chinchilla_grid() if starts is None else np.atleast_2d(np.asarray(starts, float))
    x, f, _ = fit_chinchilla_batched(lnN, lnD, lnL, st, delta)
    f = np.where(np.isfinite(f), f, np.inf)
    if not np.any(np.isfinite(f)):
        raise FitError("Chinchilla fit failed from every start (objective not finite).")
    best = x[int(np.argmin(f))]
    fbest = float(np.min(f))
    if polish:
        def fun(th):
            fv, gv = chinchilla_objective(th[None], lnN, lnD, lnL, delta)
            return fv[0], gv[0]
        r = scipy.optimize.minimize(fun, best, jac=True, method="L-BFGS-B",
                                    options={"ftol": 1e-14, "gtol": 1e-12, "maxiter": 5000})
        if np.isfinite(r.fun) and r.fun <= fbest:
            best, fbest = r.x, float(r.fun)
    boot = None
    if bootstrap:
        if bootstrap < 2:
            raise FitError("bootstrap needs at least 2 resamples (e.g. bootstrap=1000).")
        rng = np.random.default_rng(seed)
        w = rng.multinomial(N.size, np.full(N.size, 1.0 / N.size), size=bootstrap).astype(float)
        xb, _fb, _ = fit_chinchilla_batched(lnN, lnD, lnL, np.repeat(best[None], bootstrap, 0), delta, weights=w)
        boot = _theta_to_params(xb)
    p = _theta_to_params(best)[0]
    return ChinchillaFit(E=float(p[0]), A=float(p[1]), B=float(p[2]), alpha=float(p[3]), beta=float(p[4]),
                         objective=fbest, theta=np.asarray(best), n=int(N.size), n_starts=int(len(st)),
                         bootstrap=boot)


# --------------------------------------------------------------------------- IsoFLOP parabola

@dataclass(frozen=True)
class IsoflopFit:
    """Parabola of loss in ln N on one iso-compute slice; its vertex is N_opt."""

    coef: tuple[float, float, float]  # c0 + c1·u + c2·u², u = ln N
    ln_n_opt: float
    interior: bool  # vertex inside the sampled range with positive curvature

    @property
    def n_opt(self) -> float:
        return float(np.exp(self.ln_n_opt))


def fit_isoflop_parabola(N, loss, log_loss: bool = True) -> IsoflopFit:
    """Chinchilla approach 2 on one slice. A vertex outside the sampled sizes (or a
    concave fit) is clipped to the best end and flagged ``interior=False``."""
    N = _positive("N", _as_1d("N", N))
    L = _positive("loss", _as_1d("loss", loss))
    _enough(np.unique(N).size, 3, "an IsoFLOP parabola (distinct sizes)")
    u = np.log(N)
    y = np.log(L) if log_loss else L
    c2, c1, c0 = np.polyfit(u, y, 2)
    lo, hi = u.min(), u.max()
    if c2 > 0:
        v = -c1 / (2 * c2)
        interior = lo <= v <= hi
        v = float(np.clip(v, lo, hi))
    else:
        fl, fh = c0 + c1 * lo + c2 * lo ** 2, c0 + c1 * hi + c2 * hi ** 2
        v, interior = (float(lo) if fl <= fh else float(hi)), False
    return IsoflopFit(coef=(float(c0), float(c1), float(c2)), ln_n_opt=v, interior=bool(interior))


# --------------------------------------------------------------------------- LR optimum

@dataclass(frozen=True)
class LROptimum:
    """Optimum of a learning-rate sweep from a local parabola in ln LR."""

    lr: float
    ln_lr: float
    at_edge: bool
    reason: str
    curvature: float


def lr_window(k, n: int, half_window: int):
    """The ``min(2h+1, n)`` consecutive sweep points centred on ``k``, shifted to stay inside.

    Works elementwise on arrays of ``k`` (bootstrap resamples)."""
    m = min(2 * half_window + 1, n)
    lo = np.clip(np.asarray(k) - half_window, 0, n - m)
    return lo, lo + m


#: Default window of the LR vertex fit: points up to 0.3 nats (of ln loss) above the sweep's minimum.
LR_LEVEL = 0.3


def lr_level_weights(y, level: float = LR_LEVEL):
    """Weights of an LR sweep's points in the vertex fit, chosen by level above the minimum.

    ``y`` ``[..., n]``: (ln) losses in LR order. A point ``h = y − min y`` above the
    minimum weighs ``(1 − (h/level)²)²`` (Tukey's biweight in the level), 0 from
    ``level`` up; the best point's two neighbours weigh at least 0.05, so ≥3 points
    always determine the parabola. A window by level, not by a count of points,
    keeps a divergence wall (the loss rising steeply a factor of 2 above LR*) out of
    the fit however the optimum falls on the grid, and its smooth edge means a point
    crossing the level moves the vertex a little rather than by a jump.
    Returns ``(weights [..., n], argmin [...])``.
    """
    y = np.asarray(y, float)
    n = y.shape[-1]
    k = np.argmin(y, axis=-1)
    h = y - np.take_along_axis(y, k[..., None], axis=-1)
    w = np.clip(1.0 - (h / level) ** 2, 0.0, None) ** 2
    lo = np.clip(k - 1, 0, max(n - 3, 0))[..., None]
    ar = np.arange(n)
    neighbour = (ar >= lo) & (ar < lo + 3)
    return np.where(neighbour, np.maximum(w, 0.05), w), k


def lr_vertex(u, y, w, k):
    """Vertex of the weighted parabola in ``u`` (ln LR) through ``y`` ``[B, n]`` with weights ``w``.

    Returns ``(v [B], c2 [B])``: where the parabola is not convex (``c2 ≤ 0``) the vertex
    is the best swept point ``u[k]``; it is clipped to the swept range either way.
    """
    u = np.asarray(u, float)
    y = np.atleast_2d(np.asarray(y, float))
    w = np.broadcast_to(np.asarray(w, float), y.shape)
    X = np.stack([np.ones_like(u), u, u * u], -1)  # [n, 3]
    xtwx = np.einsum("bk,ki,kj->bij", w, X, X)
    xtwy = np.einsum("bk,ki,bk->bi", w, X, y)
    c = np.linalg.solve(xtwx, xtwy[..., None])[..., 0]
    convex = c[:, 2] > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.where(convex, -c[:, 1] / (2 * np.where(convex, c[:, 2], 1)), u[np.asarray(k)])
    return np.clip(v, u[0], u[-1]), c[:, 2]


def fit_lr_optimum(lr, loss, half_window: int = 2, log_loss: bool = True,
                   level: float | None = None) -> LROptimum:
    """Parabola in ln LR around the best point; never the raw argmin.

    ``level`` (in the units fitted: nats of ln loss by default): weight the points by
    their height above the minimum (:func:`lr_level_weights`); ``None``: the best point
    and up to ``half_window`` neighbours each side. The optimum is flagged ``at_edge``
    when the best point is the smallest/largest LR swept, or the parabola's vertex
    falls outside the swept range, or the fit is not convex — the sweep then does not
    bracket it."""
    lr = _positive("lr", _as_1d("lr", lr))
    L = _positive("loss", _as_1d("loss", loss))
    # average repeats (seeds) at the same LR
    ulr, inv = np.unique(lr, return_inverse=True)
    y = np.log(L) if log_loss else L
    ym = np.bincount(inv, weights=y) / np.bincount(inv)
    _enough(ulr.size, 3, "an LR optimum (distinct learning rates)")
    u = np.log(ulr)
    k = int(np.argmin(ym))
    if level is None:
        lo, hi = lr_window(k, ulr.size, half_window)
        c2, c1, _ = np.polyfit(u[lo:hi], ym[lo:hi], 2)
        v_raw = -c1 / (2 * c2) if c2 > 0 else u[k]
    else:
        w, _ = lr_level_weights(ym, level)
        X = np.stack([np.ones_like(u), u, u * u], -1)
        _, c1, c2 = np.linalg.solve(X.T @ (w[:, None] * X), X.T @ (w * ym))
        v_raw = -c1 / (2 * c2) if c2 > 0 else u[k]
    reason = ""
    if k == 0 or k == ulr.size - 1:
        reason = f"best LR is the sweep's {'smallest' if k == 0 else 'largest'} value ({ulr[k]:g})"
    if c2 <= 0:
        v = u[k]
        reason = reason or "the loss around the best LR is not convex"
    else:
        v = v_raw
        if not (u[0] <= v <= u[-1]):
            reason = reason or f"the fitted optimum {np.exp(v):.3g} lies outside the sweep [{ulr[0]:g}, {ulr[-1]:g}]"
            v = float(np.clip(v, u[0], u[-1]))
    return LROptimum(lr=float(np.exp(v)), ln_lr=float(v), at_edge=bool(reason), reason=reason, curvature=float(c2))


# --------------------------------------------------------------------------- extrapolation error

def absolute_relative_error(predicted, actual) -> np.ndarray:
    """ARE = |L̂ − L| / L, the Hitchhiker's Guide (Choshen et al. 2024) metric."""
    p = np.asarray(predicted, float)
    a = np.asarray(actual, float)
    if np.any(a <= 0):
        raise FitError("ARE needs a positive actual loss.")
    return np.abs(p - a) / a
