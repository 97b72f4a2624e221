"""Seed bootstrap: resample seeds, redo the whole pipeline, keep the distribution.

Uncertainty in a scaling study comes from seeds: the frontier is a minimum over
runs, so regression standard errors on frontier points understate it. We
therefore resample the *seeds* behind every configuration ("cell") and rerun the
statistic (seed-averaging → frontier → fit → exponent) on each resample.

Why per-cell resampling with inflated residuals (``scheme="cell"``, the default with ≥3 seeds):
with 2–3 seeds a global seed bootstrap (one draw of seed ids shared by every
cell) has only a handful of distinct resamples (10 multisets for 3 seeds), and
the plain bootstrap variance of a mean of k values is (k−1)/k of the unbiased one
— half for k = 2. Each cell therefore draws its own seeds with replacement, from
residuals scaled by sqrt(k/(k−1)) (Davison & Hinkley's modified residuals), so a
cell mean's bootstrap variance equals s²/k. Cells are many, so the fitted
statistic's bootstrap distribution is smooth even with k = 2. A seed effect
shared by all cells (same seed id everywhere) cancels in slopes and minima
locations; treating it as independent per cell only widens intervals (the
calibration tests measure that). Cells with a single seed draw from the pooled
residuals of the other cells. Values are averaged in log space (geometric mean),
matching multiplicative seed noise and keeping losses positive.

With only 2 seeds per configuration even that is too coarse (a 1-df noise
estimate per cell under-covers); ``scheme="pooled"`` then draws every cell's
seeds from the residuals of all cells (assuming the log-space seed noise is the
same across configurations), and ``scheme="auto"`` (default) picks it when the
median configuration has fewer than 3 seeds. ``scheme="seed"`` (global seed ids)
is kept for comparison: with 3 seeds it covered only 79–86% in simulation.

Chains. Runs of one (width, seed, dropout, LR) at fractions f, f/2, f/4, … are
prefixes of one training trajectory, so their seed noise is correlated along
the fraction axis (same init, same first examples), not independent per cell.
Resampling cells independently treats one chain's noise as several independent
draws, and with correlation 0.9 between neighbouring fractions the intervals
under-cover in simulation: frontier slope 83–87%, γ 88–92%, paired Δ frontier
level 75–80%. When the cells carry a ``chain`` grouping (cells differing only in
fraction; analysis sets it) the unit is the chain: ``scheme="chain"`` (≥3 seeds)
draws seed ids per chain group and uses them in all its cells, so each seed's
residual vector along the chain stays whole; ``scheme="chain-pooled"`` (2 seeds)
draws whole residual vectors from the chains of every group that covers the
group's fractions. Both give 93–97% on the same simulations (except a paired
Δ frontier *slope*: 97–99%, since the frontier bootstrap is ~25% wider than the
slope's spread, which offsets the frontier's bias in one condition but not in a
difference where the bias cancels). ``"auto"`` picks them whenever some chain
spans several cells; on independently trained cells they remain valid (fewer
units; the same calibration tests pass).

Everything is vectorised over resamples: statistics receive ``[B, C, V]`` arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Callable, Sequence

import numpy as np

from pytest_scaling.errors import FitError

__all__ = ["Cells", "BootstrapResult", "seed_bootstrap", "paired_seed_bootstrap", "paired_joint_bootstrap",
           "resample_means",
           "draw_indices", "chain_indices", "match_cells"]

Statistic = Callable[[np.ndarray], np.ndarray]  # [B, C, V] log-means -> [B]
_SINGLE_SEED = ("a seed bootstrap needs several seeds: every configuration here has a single seed. "
                "Train ≥2 seeds per configuration (a larger --scaling-budget, e.g. small).")


@dataclass(frozen=True, eq=False)
class Cells:
    """Configurations × seeds: ``logy[c, j, v]`` is ln(value v) of seed j in cell c.

    ``V`` > 1 carries several values per run (e.g. checkpoints) that must be
    resampled together because they come from the same run. ``chain`` groups
    cells whose runs of one seed are prefixes of one training trajectory (cells
    differing only in data fraction); ``None``: every cell is its own chain.
    """

    keys: tuple
    key_names: tuple
    design: dict  # name -> [C] per-cell design columns (flops, params, width, ...)
    logy: np.ndarray  # [C, K, V], NaN padded
    seeds: np.ndarray  # [C, K], -1 padded
    counts: np.ndarray  # [C]
    chain: np.ndarray | None = None  # [C] chain-group id: same id + same seed id = one training chain
    chain_pos: np.ndarray | None = None  # [C] position along the chain (aligns chains in the pooled scheme)

    @property
    def n_cells(self) -> int:
        return len(self.keys)

    @property
    def n_runs(self) -> int:
        return int(self.counts.sum())

    def means(self) -> np.ndarray:
        """Seed-averaged log values ``[C, V]``."""
        return np.nanmean(self.logy, axis=1)

    def subset(self, mask) -> Cells:
        mask = np.asarray(mask)
        idx = np.flatnonzero(mask) if mask.dtype == bool else mask
        return Cells(tuple(self.keys[i] for i in idx), self.key_names,
                     {k: v[idx] for k, v in self.design.items()}, self.logy[idx], self.seeds[idx], self.counts[idx],
                     None if self.chain is None else self.chain[idx],
                     None if self.chain_pos is None else self.chain_pos[idx])

    def chain_layout(self) -> tuple[np.ndarray, np.ndarray]:
        """``(group [C], position [C])`` as dense ints; each cell its own group when ``chain`` is None.
        Without ``chain_pos`` a cell's position is its rank within its group (cells are sorted by key)."""
        C = self.n_cells
        if self.chain is None:
            return np.arange(C), np.zeros(C, int)
        group = np.unique(self.chain, return_inverse=True)[1].reshape(C)
        if self.chain_pos is not None:
            return group, np.unique(self.chain_pos, return_inverse=True)[1].reshape(C)
        order = np.argsort(group, kind="stable")
        starts = np.searchsorted(group[order], group[order])
        pos = np.empty(C, int)
        pos[order] = np.arange(C) - starts
        return group, pos

    @property
    def has_chains(self) -> bool:
        """Whether some chain spans several cells (so cells' seed noise is correlated)."""
        return self.chain is not None and np.unique(self.chain).size < self.n_cells

    @classmethod
    def from_arrays(cls, keys: Sequence[tuple], seeds, values, design: dict, key_names=(),
                    chain_keys: Sequence | None = None, chain_pos: Sequence | None = None) -> Cells:
        """Group per-run rows into cells. ``values`` is ``[n]`` or ``[n, V]`` (positive).

        ``chain_keys`` (per run, constant within a cell): runs with the same chain key
        and seed id are one training chain; ``chain_pos`` (per run, e.g. the data
        fraction) says where on the chain each cell lies.
        """
        vals = np.asarray(values, float)
        if vals.ndim == 1:
            vals = vals[:, None]
        if vals.shape[0] == 0:
            raise FitError("no usable runs to analyse (all diverged or filtered out?).")
        if np.any(~np.isfinite(vals)) or np.any(vals <= 0):
            raise FitError("values must be finite and positive for a log-space analysis; drop diverged runs "
                           "(runs.usable()) and runs with zero error/loss.")
        seeds = np.asarray(seeds, int)
        uniq = sorted(set(keys))
        pos = {k: i for i, k in enumerate(uniq)}
        ci = np.array([pos[k] for k in keys])
        counts = np.bincount(ci, minlength=len(uniq))
        K = int(counts.max())
        logy = np.full((len(uniq), K, vals.shape[1]), np.nan)
        sd = np.full((len(uniq), K), -1)
        order = np.lexsort((seeds, ci))
        fill = np.zeros(len(uniq), int)
        for r in order:
            c = ci[r]
            logy[c, fill[c]] = np.log(vals[r])
            sd[c, fill[c]] = seeds[r]
            fill[c] += 1
        first = np.zeros(len(uniq), int)
        first[ci[order[::-1]]] = order[::-1]
        des = {k: np.asarray(v)[first] for k, v in design.items()}
        chain = pos = None
        if chain_keys is not None:
            ck = list(chain_keys)
            ids = {k: i for i, k in enumerate(dict.fromkeys(ck))}
            chain = np.array([ids[ck[r]] for r in first])
            if chain_pos is not None:
                pos = np.asarray(chain_pos)[first]
        return cls(tuple(uniq), tuple(key_names), des, logy, sd, counts, chain, pos)


@dataclass(frozen=True)
class BootstrapResult:
    point: float
    samples: np.ndarray = field(repr=False)
    n_resamples: int
    n_failed: int
    method: str


def draw_indices(counts: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Per cell and resample, ``k_c`` seed indices drawn with replacement: ``[B, C, K]``."""
    K = int(counts.max())
    u = rng.random((n_resamples, counts.size, K))
    return np.minimum((u * counts[None, :, None]).astype(np.int64), np.maximum(counts - 1, 0)[None, :, None])


def _residuals(cells: Cells, inflate: bool):
    m = cells.means()  # [C, V]
    k = cells.counts.astype(float)
    scale = np.where(k > 1, np.sqrt(k / np.maximum(k - 1, 1)), 0.0) if inflate else np.ones_like(k)
    res = (cells.logy - m[:, None, :]) * scale[:, None, None]
    return m, np.nan_to_num(res)


def resample_means(cells: Cells, idx: np.ndarray, *, inflate: bool = True,
                   pool_u: np.ndarray | None = None) -> np.ndarray:
    """Resampled cell means ``[B, C, V]`` from drawn seed indices ``idx`` ``[B, C, K]``.

    Single-seed cells add a residual drawn (via ``pool_u`` ``[B, C]`` uniforms)
    from the pooled residuals of the multi-seed cells.
    """
    m, res = _residuals(cells, inflate)
    C, K, _V = res.shape
    k = cells.counts
    valid = (np.arange(K)[None, :] < k[:, None])  # [C, K]
    g = res[np.arange(C)[None, :, None], idx]  # [B, C, K, V]
    g = g * valid[None, :, :, None]
    out = m[None] + g.sum(axis=2) / k[None, :, None]
    single = k == 1
    if np.any(single):
        multi = k > 1
        if not np.any(multi):
            raise FitError(_SINGLE_SEED)
        pool = res[multi][valid[multi]]  # [P, V]
        if pool_u is None:
            raise ValueError("pool_u is required when some cells have a single seed")
        j = np.minimum((pool_u[:, single] * len(pool)).astype(np.int64), len(pool) - 1)
        out[:, single] = m[None, single] + pool[j]
    return out


def resample_means_pooled(cells: Cells, u: np.ndarray, *, inflate: bool = True,
                          pool: np.ndarray | None = None) -> np.ndarray:
    """``scheme='pooled'``: each cell's k_c seeds are drawn from the residuals of *all* cells.

    ``u`` ``[B, C, K]`` uniforms. Assumes the log-space seed noise is the same in
    every configuration; in exchange the noise level is estimated from every run,
    not from 2–3 seeds per cell. Matched cells of two conditions (same layout)
    given the same ``u`` draw the same (configuration, seed) residual: pairing holds.

    ``pool`` ``[C]`` (optional ids) restricts the sharing: a cell draws from the
    residuals of the multi-seed cells with its own pool id, for when the noise is
    the same only within groups of cells (an LR sweep: near each width's optimum
    vs up a divergence wall). A pool without a multi-seed cell draws from every
    cell's residuals. ``None``: one pool (the default, unchanged).
    """
    m, res = _residuals(cells, inflate)
    C, K, _ = res.shape
    k = cells.counts
    valid = np.arange(K)[None, :] < k[:, None]
    multi = k > 1
    if not np.any(multi):
        raise FitError(_SINGLE_SEED)
    ok = valid & multi[:, None]
    flat = res[ok]  # [P, V]
    if pool is None:
        j = np.minimum((u * len(flat)).astype(np.int64), len(flat) - 1)
        g = flat[j] * valid[None, :, :, None]
        return m[None] + g.sum(axis=2) / k[None, :, None]
    pid = np.unique(np.asarray(pool), return_inverse=True)[1].reshape(C)
    row_pid = np.broadcast_to(pid[:, None], ok.shape)[ok]  # pool of each residual in ``flat``
    order = np.argsort(row_pid, kind="stable")
    flat = np.concatenate([flat[order], flat])  # sorted by pool, then the whole pool for the fallback
    size = np.bincount(row_pid, minlength=int(pid.max()) + 1)
    start = np.concatenate([[0], np.cumsum(size)[:-1]])
    empty = size == 0
    start = np.where(empty, len(order), start)
    size = np.where(empty, len(order), size)
    n_c, s_c = size[pid], start[pid]  # [C]
    j = s_c[None, :, None] + np.minimum((u * n_c[None, :, None]).astype(np.int64), n_c[None, :, None] - 1)
    g = flat[j] * valid[None, :, :, None]
    return m[None] + g.sum(axis=2) / k[None, :, None]


def chain_indices(cells: Cells, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``scheme='chain'``: seed indices ``[B, C, K]`` drawn per chain *group* and shared by its cells.

    Every cell of a group uses the same drawn seed ids, so a resample keeps each
    seed's residual vector along the chain whole (its correlation across fractions).
    A cell lacking a drawn seed (a diverged run) draws one of its own seeds instead.
    """
    group, _ = cells.chain_layout()
    C, K = cells.seeds.shape
    G = int(group.max()) + 1
    ids = [np.unique(cells.seeds[group == g]) for g in range(G)]
    ids = [i[i >= 0] for i in ids]
    n_u = np.array([max(i.size, 1) for i in ids])
    uid = np.full((G, int(n_u.max())), -2)  # the group's seed ids (its chains), padded
    for g, i in enumerate(ids):
        uid[g, :i.size] = i
    eq = cells.seeds[:, None, :] == uid[group][:, :, None]  # [C, U, K]
    colmap = np.where(eq.any(-1), eq.argmax(-1), -1)  # column of the group's u-th seed id in cell c
    j = np.minimum((rng.random((n_resamples, G, K)) * n_u[None, :, None]).astype(np.int64),
                   n_u[None, :, None] - 1)
    col = colmap[np.arange(C)[None, :, None], j[:, group, :]]
    missing = col < 0
    if np.any(missing):
        col = np.where(missing, draw_indices(cells.counts, n_resamples, rng), col)
    return col


@dataclass(frozen=True)
class _ChainPool:
    """Layout for ``scheme='chain-pooled'``: rows are chains (group, seed id), columns chain positions."""

    group: np.ndarray  # [C]
    pos: np.ndarray  # [C]
    rowmap: np.ndarray  # [C, K]: row of (group, seed j) for multi-seed cells, else -1
    n_rows: int
    n_pos: int
    cand: np.ndarray  # [G, Nmax] candidate rows per group (padded)
    n_cand: np.ndarray  # [G]
    fill: bool  # some drawn row may lack a needed position: fill from the flat pool


def _chain_pool(cells: Cells) -> _ChainPool:
    group, pos = cells.chain_layout()
    C, K = cells.seeds.shape
    G, P = int(group.max()) + 1, int(pos.max()) + 1
    rows: dict[tuple, int] = {}
    rowmap = np.full((C, K), -1)
    for c in range(C):
        if cells.counts[c] > 1:
            for j in range(cells.counts[c]):
                rowmap[c, j] = rows.setdefault((int(group[c]), int(cells.seeds[c, j])), len(rows))
    if not rows:
        raise FitError(_SINGLE_SEED)
    present = np.zeros((len(rows), P), bool)
    ok = rowmap >= 0
    present[rowmap[ok], np.broadcast_to(pos[:, None], rowmap.shape)[ok]] = True
    cands, fill = [], False
    for g in range(G):
        need = np.unique(pos[group == g])
        cg = np.flatnonzero(present[:, need].all(axis=1))
        if cg.size == 0:  # no chain covers this group's positions (ragged design): any chain, gaps filled
            cg, fill = np.arange(len(rows)), True
        cands.append(cg)
    fill = fill or bool(np.any(cells.counts == 1))
    n_cand = np.array([c.size for c in cands])
    cand = np.zeros((G, int(n_cand.max())), int)
    for g, cg in enumerate(cands):
        cand[g, :cg.size] = cg
    return _ChainPool(group, pos, rowmap, len(rows), P, cand, n_cand, fill)


def resample_means_chain_pooled(cells: Cells, plan: _ChainPool, u: np.ndarray, fill_u: np.ndarray | None = None,
                                *, inflate: bool = True) -> np.ndarray:
    """``scheme='chain-pooled'``: each chain group draws k residual *vectors* (whole chains) from the
    chains of every group that covers its positions; ``u`` ``[B, G, K]``, ``fill_u`` ``[B, C, K]``.

    The pooled scheme with a chain, not a cell, as the unit: the noise level and
    its correlation along the chain are estimated from every chain. Two aligned
    conditions given the same ``u`` draw the same chains (pairing holds).
    """
    m, res = _residuals(cells, inflate)
    K, V = res.shape[1:]
    k = cells.counts
    R = np.full((plan.n_rows, plan.n_pos, V), np.nan)
    ok = plan.rowmap >= 0
    R[plan.rowmap[ok], np.broadcast_to(plan.pos[:, None], ok.shape)[ok]] = res[ok]
    G = plan.cand.shape[0]
    j = np.minimum((u * plan.n_cand[None, :, None]).astype(np.int64), plan.n_cand[None, :, None] - 1)
    rows = plan.cand[np.arange(G)[None, :, None], j]  # [B, G, K]
    g = R[rows[:, plan.group, :], plan.pos[None, :, None]]  # [B, C, K, V]
    if plan.fill:
        miss = np.isnan(g)
        if np.any(miss):
            flat = R[~np.isnan(R[:, :, 0])]  # [P', V]
            jf = np.minimum((fill_u * len(flat)).astype(np.int64), len(flat) - 1)
            g = np.where(miss, flat[jf], g)
    valid = np.arange(K)[None, :] < k[:, None]
    g = g * valid[None, :, :, None]
    return m[None] + g.sum(axis=2) / k[None, :, None]


def _finish(point: float, samples: np.ndarray, method: str, max_failed: float = 0.05) -> BootstrapResult:
    """``max_failed``: the largest fraction of non-finite resamples tolerated (a caller that explains
    its failures itself, such as a window too narrow in some resamples, passes 1)."""
    ok = np.isfinite(samples)
    n_failed = int((~ok).sum())
    if not np.isfinite(point):
        raise FitError(f"the statistic is not finite on the data themselves ({method}); check the fit region.")
    if ok.sum() < 2:
        raise FitError(f"fewer than 2 of {samples.size} bootstrap resamples gave a finite estimate; the data do "
                       f"not pin this quantity down.")
    if n_failed > max_failed * samples.size:
        raise FitError(f"{n_failed} of {samples.size} bootstrap resamples gave no finite estimate; the data do "
                       f"not pin this quantity down (too few points or seeds in the fit region).")
    return BootstrapResult(float(point), samples[ok], int(ok.sum()), n_failed, method)


_SCHEME_NAMES = {"cell": "per-configuration", "pooled": "pooled residuals", "seed": "global seed ids",
                 "chain": "per-chain", "chain-pooled": "pooled chain residuals",
                 "residual": "no seeds: residuals of a smooth surface in ln N, ln D"}


def surface_residuals(cells: Cells) -> tuple[np.ndarray, np.ndarray]:
    """``scheme='residual'``, for runs with one seed each (a sweep imported without seeds): the noise is
    read off the lack of fit of ln(final value) to a smooth surface in (ln N, ln D) — a quadratic, or a
    cubic with ≥ 40 configurations — and each resample gives every run another of those residuals as
    a shift of its whole value vector (a run's checkpoints move with it, as a seed's do).

    Returns ``(residual [C], pool [C])``: each run's own residual and the leverage-corrected, centred
    pool (Davison & Hinkley's modified residuals r/√(1−h)). Lack of fit counts as noise, so on a
    surface the polynomial cannot follow the intervals widen: conservative, never narrower.
    """
    import statsmodels.api as sm

    d = cells.design
    if "params" not in d or "examples" not in d:
        raise FitError("a bootstrap without seeds needs each run's size and data (params, examples).")
    x1, x2 = np.log(d["params"].astype(float)), np.log(d["examples"].astype(float))
    y = cells.logy[:, 0, 0]
    degree = 3 if y.size >= 40 else 2
    terms = [x1 ** i * x2 ** j for i in range(degree + 1) for j in range(degree + 1 - i)]
    X = np.column_stack(terms)
    if np.linalg.matrix_rank(X) >= y.size - 2:
        raise FitError(f"{y.size} single-seed runs are too few to estimate their noise from a smooth surface "
                       f"({X.shape[1]} terms); import seeds (a seed column) or more sizes and data points.")
    fit = sm.OLS(y, X).fit()
    h = fit.get_influence().hat_matrix_diag
    pool = fit.resid / np.sqrt(np.clip(1.0 - h, 1e-3, None))
    return np.asarray(fit.resid), pool - pool.mean()


def resample_means_residual(cells: Cells, u: np.ndarray, plan: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """``scheme='residual'``: ``u`` ``[B, C]`` uniforms pick each run's new residual from the pool."""
    own, pool = plan
    m = cells.means()  # [C, V]: one run per cell
    j = np.minimum((u * pool.size).astype(np.int64), pool.size - 1)
    return m[None] + (pool[j] - own[None, :])[:, :, None]


def resolve_scheme(scheme: str, cells: Cells) -> str:
    """``'auto'``: per-configuration resampling with ≥3 seeds per configuration, pooled
    residuals with fewer (2 seeds give each cell a 1-df noise estimate, and the
    per-configuration intervals then under-cover: 88% for the frontier slope in
    simulation, vs 94% pooled); the chain versions of both when some chain of
    training spans several cells (see the module docstring). "Fewer" is any cell: a
    design with more seeds at some widths (``extra_seeds``) still has 2-seed cells, and
    per-configuration draws there under-cover whatever the other cells have (on `small`
    with 4 seeds at widths 1–8 a median rule shrank the 2-seed width-32 data exponent's
    interval from ±0.031 to ±0.010)."""
    if scheme == "auto":
        if int(cells.counts.max()) == 1:
            return "residual"
        few = int(cells.counts.min()) < 3
        if cells.has_chains:
            return "chain-pooled" if few else "chain"
        return "pooled" if few else "cell"
    if scheme not in _SCHEME_NAMES:
        raise ValueError(f"unknown bootstrap scheme {scheme!r}; use 'auto', {', '.join(map(repr, _SCHEME_NAMES))}")
    return scheme


def _global_seed_indices(cells: Cells, n_resamples: int, rng) -> np.ndarray:
    """``scheme='seed'``: one draw of seed ids per resample, shared by every cell."""
    K = int(cells.counts.max())
    if np.any(cells.counts != K) or np.any(cells.seeds != cells.seeds[:1]):
        raise FitError("scheme='seed' needs every configuration to have the same seeds; use scheme='cell'.")
    if K < 2:
        raise FitError("a seed bootstrap needs ≥2 seeds; train more seeds (a larger --scaling-budget).")
    j = rng.integers(0, K, size=(n_resamples, K))
    return np.broadcast_to(j[:, None, :], (n_resamples, cells.n_cells, K))


def _drawer(cells: Cells, scheme: str, pool: np.ndarray | None = None):
    """``draw(rng, B, conditions, inflate)`` → resampled means ``[B, C, V]`` of each aligned condition,
    all from the same draws (so a paired bootstrap pairs). The layout comes from ``cells``;
    ``pool``: see :func:`resample_means_pooled` (``scheme='pooled'`` only)."""
    C, K = cells.n_cells, int(cells.counts.max())
    if scheme == "residual":
        plans = {id(cells): surface_residuals(cells)}  # each condition's surface, fitted once, not per chunk

        def plan(x: Cells):
            if id(x) not in plans:
                plans[id(x)] = surface_residuals(x)
            return plans[id(x)]

        def draw(rng, b, conds, inflate):
            u = rng.random((b, C))
            return [resample_means_residual(x, u, plan(x)) for x in conds]
    elif scheme == "pooled":
        def draw(rng, b, conds, inflate):
            u = rng.random((b, C, K))
            return [resample_means_pooled(x, u, inflate=inflate, pool=pool) for x in conds]
    elif scheme == "chain-pooled":
        plan = _chain_pool(cells)

        def draw(rng, b, conds, inflate):
            u = rng.random((b, plan.cand.shape[0], K))
            fu = rng.random((b, C, K)) if plan.fill else None
            return [resample_means_chain_pooled(x, plan, u, fu, inflate=inflate) for x in conds]
    else:
        pick = {"cell": lambda rng, b: draw_indices(cells.counts, b, rng),
                "chain": lambda rng, b: chain_indices(cells, b, rng),
                "seed": lambda rng, b: _global_seed_indices(cells, b, rng)}[scheme]

        def draw(rng, b, conds, inflate):
            idx = pick(rng, b)
            pu = rng.random((b, C))
            return [resample_means(x, idx, inflate=inflate, pool_u=pu) for x in conds]
    return draw


def seed_bootstrap(cells: Cells, statistic: Statistic, *, n_resamples: int = 2000, seed: int = 0,
                   scheme: str = "auto", inflate: bool = True, chunk: int = 1000,
                   pool: np.ndarray | None = None, max_failed: float = 0.05) -> BootstrapResult:
    """Bootstrap ``statistic`` over seeds; deterministic given ``seed``.

    ``pool`` ``[C]`` (optional): residual-pool ids for ``scheme='pooled'`` — cells share
    residuals only within a pool (see :func:`resample_means_pooled`); other schemes ignore it.
    """
    scheme = resolve_scheme(scheme, cells)
    if n_resamples < 2:
        raise FitError("a bootstrap needs at least 2 resamples (default 2000).")
    if pool is not None and np.shape(pool) != (cells.n_cells,):
        raise ValueError(f"pool must give one id per cell ({cells.n_cells}), got shape {np.shape(pool)}")
    point = float(np.asarray(statistic(cells.means()[None]))[0])
    rng = np.random.default_rng(seed)
    draw = _drawer(cells, scheme, pool)
    out = []
    for start in range(0, n_resamples, chunk):
        b = min(chunk, n_resamples - start)
        out.append(np.asarray(statistic(draw(rng, b, (cells,), inflate)[0]), float))
    method = f"seed bootstrap ({_SCHEME_NAMES[scheme]}, percentile)"
    return _finish(point, np.concatenate(out), method, max_failed)


def match_cells(a: Cells, b: Cells, on: Sequence[str]) -> tuple[Cells, Cells]:
    """Align two conditions' cells on the key columns ``on`` and on shared seed ids.

    Keeps only configurations present in both and, within each, seeds present in
    both (so resampled seed ids mean the same seed in both conditions).
    """
    def keyed(cells):
        names = list(cells.key_names)
        return {tuple(k[names.index(n)] for n in on): i for i, k in enumerate(cells.keys)}
    ka, kb = keyed(a), keyed(b)
    common = sorted(set(ka) & set(kb))
    if not common:
        raise FitError("the two conditions share no configuration; a paired comparison needs the same grid.")
    ia = np.array([ka[k] for k in common])
    ib = np.array([kb[k] for k in common])
    a, b = a.subset(ia), b.subset(ib)
    C, V = len(common), a.logy.shape[2]
    K = max(a.seeds.shape[1], b.seeds.shape[1])
    la = np.full((C, K, V), np.nan)
    lb = np.full((C, K, b.logy.shape[2]), np.nan)
    sd = np.full((C, K), -1)
    cnt = np.zeros(C, int)
    for c in range(C):
        sa = [s for s in a.seeds[c] if s >= 0]
        sb = [s for s in b.seeds[c] if s >= 0]
        shared = sorted(set(sa) & set(sb))
        for j, s in enumerate(shared):
            la[c, j] = a.logy[c, sa.index(s)]
            lb[c, j] = b.logy[c, sb.index(s)]
            sd[c, j] = s
        cnt[c] = len(shared)
    keep = cnt > 0
    if not np.any(keep):
        raise FitError("the two conditions share no seed ids; a paired bootstrap needs common seeds.")
    def kept(x: Cells, level: np.ndarray) -> Cells:
        return Cells(tuple(k for k, kk in zip(x.keys, keep) if kk), x.key_names,
                     {n: v[keep] for n, v in x.design.items()}, level[keep], sd[keep], cnt[keep],
                     None if x.chain is None else x.chain[keep],
                     None if x.chain_pos is None else x.chain_pos[keep])

    return kept(a, la), kept(b, lb)


def paired_seed_bootstrap(a: Cells, b: Cells, stat_a: Statistic, stat_b: Statistic, *,
                          n_resamples: int = 2000, seed: int = 0, scheme: str = "auto",
                          inflate: bool = True, chunk: int = 1000) -> BootstrapResult:
    """Bootstrap of ``stat_a − stat_b`` where matched cells reuse the same seed draws.

    ``a`` and ``b`` must come from :func:`match_cells` (same cells, same seed ids
    in the same order), so seed j of a cell is the same seed in both conditions.
    """
    def difference(ma: np.ndarray, mb: np.ndarray) -> np.ndarray:
        return np.asarray(stat_a(ma), float) - np.asarray(stat_b(mb), float)

    return paired_joint_bootstrap(a, b, difference, n_resamples=n_resamples, seed=seed, scheme=scheme,
                                  inflate=inflate, chunk=chunk)


def paired_joint_bootstrap(a: Cells, b: Cells, statistic: Callable[[np.ndarray, np.ndarray], np.ndarray], *,
                           n_resamples: int = 2000, seed: int = 0, scheme: str = "auto",
                           inflate: bool = True, chunk: int = 1000, max_failed: float = 0.05) -> BootstrapResult:
    """Bootstrap of ``statistic(M_a, M_b)`` on paired draws: for statistics that are not a difference
    of two per-condition statistics, e.g. the largest per-budget mean of cell-wise differences."""
    scheme = resolve_scheme(scheme, a)
    if a.n_cells != b.n_cells or np.any(a.counts != b.counts) or np.any(a.seeds != b.seeds):
        raise FitError("paired bootstrap: align the conditions with match_cells() first.")
    point = float(np.asarray(statistic(a.means()[None], b.means()[None]), float)[0])
    rng = np.random.default_rng(seed)
    draw = _drawer(a, scheme)
    out = []
    for start in range(0, n_resamples, chunk):
        n = min(chunk, n_resamples - start)
        Ma, Mb = draw(rng, n, (a, b), inflate)
        out.append(np.asarray(statistic(Ma, Mb), float))
    method = f"paired seed bootstrap ({_SCHEME_NAMES[scheme]}, percentile)"
    return _finish(point, np.concatenate(out), method, max_failed)
