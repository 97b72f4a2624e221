"""Estimates with honest intervals, and ``expect``: claims with three verdicts.

A claim states the region where a quantity must lie. At confidence level 1−α
(Bonferroni-adjusted to 1−α/m in a family of m claims: by default each finding, the claims of one
module; Holm's step-down over the family at session end is the reported family-wise verdict):

* **confirmed** – the whole CI lies inside the region: the test passes;
* **refuted** – the whole CI lies outside it: ``AssertionError`` (a failure);
* **inconclusive** – the CI straddles a boundary, or the estimate was flagged
  unreliable (e.g. an LR optimum at the sweep's edge): ``pytest.skip`` by
  default, ``pytest.fail`` in strict mode.

p-values (stored on each record, used by :func:`holm_adjust`): for a region R
and a family of equal-tailed intervals CI(1−α), the claim's p-value is the
smallest α at which CI(1−α) lies inside R. For a bootstrap estimate that is
``min(1, 2·max(P*(θ* ≤ lo), P*(θ* ≥ hi)))`` from the bootstrap distribution; for
a t-interval the same with the t distribution of (θ − value)/se. The verdict at
level 1−α is "confirmed" exactly when p ≤ α (up to quantile interpolation).
``details['p_refute']`` is the same quantity for the complement of R.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.stats

from pytest_scaling.errors import FitError

__all__ = ["Estimate", "Expectation", "ClaimRecord", "ClaimLog", "expect", "configure", "take_records",
           "use_log", "holm_adjust", "holm", "record_undecided", "seeds_factor"]


# --------------------------------------------------------------------------- Estimate

#: Fewest resamples beyond an interval end for a percentile end to be read off them (else extrapolated).
MIN_TAIL = 10

@dataclass(frozen=True, eq=False)
class Estimate:
    """A number with its uncertainty: value, CI at any level, method, runs used.

    Either ``samples`` (a bootstrap distribution: percentile intervals) or ``se``
    (+ ``df``; t-interval, normal when ``df`` is None) must be given. A non-empty
    ``reason`` marks the estimate unreliable: any claim on it is inconclusive.
    """

    value: float
    method: str
    runs: int
    quantity: str = ""
    samples: np.ndarray | None = field(default=None, repr=False)
    se: float | None = None
    df: float | None = None
    n_resamples: int | None = None
    reason: str = ""
    details: dict = field(default_factory=dict, repr=False)
    #: With a ``reason``: the smallest change to the design that would decide a claim on it.
    to_decide: str = ""

    def __post_init__(self):
        if not math.isfinite(self.value):
            raise FitError(f"estimate of {self.quantity or 'a quantity'} is not finite ({self.value}); "
                           f"the data do not determine it.")
        if self.samples is None and self.se is None:
            raise ValueError("an Estimate needs bootstrap samples or a standard error")
        if self.samples is not None:
            s = np.asarray(self.samples, float)
            if s.size < 2 or not np.all(np.isfinite(s)):
                raise FitError("bootstrap samples must be ≥2 finite values")
            object.__setattr__(self, "samples", s)
            if self.n_resamples is None:
                object.__setattr__(self, "n_resamples", int(s.size))
        elif not (self.se >= 0 and math.isfinite(self.se)):
            raise FitError(f"standard error of {self.quantity or 'the estimate'} is not finite; too few points.")

    # -- intervals ---------------------------------------------------------
    # One tail model serves both the interval and the p-value, so "the (1−α) CI lies inside the region"
    # and "p ≤ α" are the same statement at every α (and a claim Bonferroni confirms, Holm confirms).
    # Each side is the resamples' own tail, read as counts (an end is an order statistic, never an
    # interpolation between two), down to its anchor, the quantile with MIN_TAIL resamples beyond it
    # (never deeper than 2.5 %). Past the anchor it is a normal tail centred on the resamples' median
    # and matched at the anchor, but never thinner than the resamples' own count there: an atom of
    # resamples on a parameter's bound (``details["parameter_bounds"]``), or a long tail, is counted,
    # never extrapolated through.
    def ci(self, level: float = 0.95) -> tuple[float, float]:
        if not 0 < level < 1:
            raise ValueError(f"confidence level must be in (0, 1), got {level}")
        q = (1 - level) / 2
        if self.samples is not None:
            return self._end(q, upper=False), self._end(q, upper=True)
        crit = scipy.stats.t.ppf(1 - q, self.df) if self.df else scipy.stats.norm.ppf(1 - q)
        return float(self.value - crit * self.se), float(self.value + crit * self.se)

    def _bound(self, upper: bool) -> float:
        low, high = self.details.get("parameter_bounds") or (None, None)  # None: unbounded on that side
        bound = high if upper else low
        return (math.inf if upper else -math.inf) if bound is None else float(bound)

    def _anchor(self, upper: bool) -> tuple[float, float, float, float] | None:
        """``(a, x_a, scale, centre)``: the side's anchor tail probability and quantile, and the normal
        (centred on the resamples' median) matching it there; None when that side has no spread."""
        a = min(MIN_TAIL / self.samples.size, 0.025)
        x_a = float(np.quantile(self.samples, 1 - a if upper else a))
        centre = float(np.median(self.samples))
        spread = (x_a - centre) if upper else (centre - x_a)
        if spread <= 0:
            return None
        return a, x_a, spread / scipy.stats.norm.isf(a), centre

    def _order(self, q: float, upper: bool) -> float:
        """The end with at most q·n resamples beyond it: the (⌊q·n⌋+1)-th from that side."""
        s = np.sort(self.samples)
        k = min(int(math.floor(q * s.size + 1e-9)), s.size - 1)
        return float(s[s.size - 1 - k] if upper else s[k])

    def _end(self, q: float, upper: bool) -> float:
        """The interval's end with tail probability ``q`` on that side (``ci``'s half)."""
        bound = self._bound(upper)
        counted = self._order(q, upper)
        anchor = self._anchor(upper)
        if anchor is None or q >= anchor[0]:
            end = counted
        else:
            _, _, scale, centre = anchor
            normal = centre + scale * scipy.stats.norm.isf(q) * (1 if upper else -1)
            end = max(normal, counted) if upper else min(normal, counted)
        return float(min(end, bound) if upper else max(end, bound))

    def _tail(self, x: float, upper: bool) -> float:
        """P(θ ≥ x) if upper else P(θ ≤ x) under the estimate's sampling distribution (``_end``'s inverse)."""
        if math.isinf(x):
            return 0.0 if (x > 0) == upper else 1.0
        if self.samples is not None:
            bound = self._bound(upper)
            if (x > bound) if upper else (x < bound):
                return 0.0
            n = self.samples.size
            beyond = int(np.sum(self.samples >= x) if upper else np.sum(self.samples <= x))
            anchor = self._anchor(upper)
            if anchor is None or ((x <= anchor[1]) if upper else (x >= anchor[1])):
                return beyond / n
            _, _, scale, centre = anchor
            tail = float(scipy.stats.norm.sf(((x - centre) if upper else (centre - x)) / scale))
            return max(tail, beyond / n)
        if self.se == 0:
            return float((self.value >= x) if upper else (self.value <= x))
        z = (x - self.value) / self.se
        dist = scipy.stats.t(self.df) if self.df else scipy.stats.norm()
        return float(dist.sf(z) if upper else dist.cdf(z))

    def p_value(self, low: float = -math.inf, high: float = math.inf) -> float:
        """Smallest α at which the (1−α) CI lies inside (low, high); see module docstring."""
        return float(min(1.0, 2 * max(self._tail(low, upper=False), self._tail(high, upper=True))))

    # -- display -----------------------------------------------------------
    def __float__(self) -> float:
        return float(self.value)

    def __format__(self, spec: str) -> str:
        return format(self.value, spec or "g")

    def summary(self, level: float = 0.95) -> str:
        lo, hi = self.ci(level)
        title = f"Estimate: {self.quantity}" if self.quantity else "Estimate"
        rows = [("value", f"{self.value:.6g}"), (f"{level:.0%} CI", f"[{lo:.6g}, {hi:.6g}]"),
                ("method", self.method), ("runs used", str(self.runs))]
        if self.n_resamples is not None:
            rows.append(("resamples", str(self.n_resamples)))
        if self.se is not None:
            rows.append(("std err", f"{self.se:.4g}" + (f" (df={self.df:g})" if self.df else "")))
        if self.reason:
            rows.append(("warning", self.reason))
        for k, v in self.details.items():
            if isinstance(v, (int, float, str, bool)):
                rows.append((k, f"{v:.4g}" if isinstance(v, float) else str(v)))
        w = max(len(r[0]) for r in rows)
        width = max(46, max(w + 2 + len(r[1]) for r in rows))
        line = "=" * width
        body = "\n".join(f"{k:<{w}}  {v}" for k, v in rows)
        return f"{title:^{width}}\n{line}\n{body}\n{line}"

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        lo, hi = self.ci(0.95)
        return (f"Estimate({self.quantity + ': ' if self.quantity else ''}{self.value:.4g}, "
                f"95% CI [{lo:.4g}, {hi:.4g}], {self.method}, runs={self.runs})")


# --------------------------------------------------------------------------- settings & records

#: Family-wise policies: Holm within each finding (claim module; the default), over the whole session, or none.
FAMILY_POLICIES = ("finding", "session", "none")


def family_of(nodeid: str) -> str:
    """A claim's finding: its module (the part of the node id before ``::``)."""
    return nodeid.split("::", 1)[0]


@dataclass
class Settings:
    confidence: float = 0.95
    strict: bool = False
    family_size: int = 1
    #: finding → number of claims in it (policy "finding"); a claim outside it uses ``family_size``
    families: dict = field(default_factory=dict)
    policy: str = "none"

    @property
    def level(self) -> float:
        """The CI level a claim outside any declared finding is judged at (Bonferroni over the family)."""
        return 1 - (1 - self.confidence) / max(1, self.family_size)

    def level_for(self, nodeid: str) -> float:
        """The CI level the claim ``nodeid`` is judged at: Bonferroni over its family (its finding's claims
        under the "finding" policy). Holm at session end is uniformly more powerful (``holm_adjust``)."""
        m = self.families.get(family_of(nodeid), self.family_size) if self.policy == "finding" else self.family_size
        return 1 - (1 - self.confidence) / max(1, m)

    def family_size_for(self, nodeid: str) -> int:
        return self.families.get(family_of(nodeid), self.family_size) if self.policy == "finding" else self.family_size


@dataclass
class ClaimLog:
    """One session's claim settings and the records its claims made since they were last taken.

    The plugin keeps one on its session state (``config.stash``) and points :func:`expect` at it
    with :func:`use_log` while the session runs; outside a pytest-scaling session (a script, a unit
    test) claims write to a standalone log of their own."""

    settings: Settings = field(default_factory=Settings)
    records: list = field(default_factory=list)

    def take(self) -> list[ClaimRecord]:
        """Return and clear the records made since the last call."""
        out, self.records = self.records, []
        return out


_standalone = ClaimLog()
_log = _standalone  # where claims write now: the running session's log, else the standalone one


def use_log(log: ClaimLog | None) -> ClaimLog:
    """Make ``log`` the one claims write to (None: the standalone log); returns the one it replaces,
    so a session nested in another (pytester's in-process runs) gives the outer one back."""
    global _log
    previous, _log = _log, log if log is not None else _standalone
    return previous


def __getattr__(name: str):
    if name == "settings":  # the current log's: ``claims.settings.strict`` reads the running session's
        return _log.settings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def configure(confidence: float = 0.95, strict: bool = False, family_size: int = 1, families: dict | None = None,
              policy: str = "none") -> None:
    """Set the current log's confidence level, strictness and claim families (plugin calls this).
    ``policy`` "finding": each claim's family is its module, of ``families[module]`` claims;
    "session": one family of ``family_size``; "none": each claim alone."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if family_size < 1:
        raise ValueError(f"family_size must be ≥ 1, got {family_size}")
    if policy not in FAMILY_POLICIES:
        raise ValueError(f"family-wise policy must be one of {', '.join(FAMILY_POLICIES)}, got {policy!r}")
    _log.settings = Settings(confidence=float(confidence), strict=bool(strict), family_size=int(family_size),
                             families=dict(families or {}), policy=policy)


@dataclass(frozen=True)
class ClaimRecord:
    """One ``expect`` call, as the report shows it. JSON-able via ``to_dict``."""

    nodeid: str
    name: str
    quantity: str
    estimate: float | None  # None: the budget could not produce an estimate (see reason)
    ci_low: float | None
    ci_high: float | None
    confidence: float
    method: str
    n_resamples: int | None
    expected: str
    verdict: str
    runs: int
    p_value: float | None
    reason: str
    details: dict
    adjusted_p: float | None = None  # set by holm_adjust: Holm-adjusted p of the side the claim leans to
    adjusted_verdict: str | None = None  # set by holm_adjust
    #: The compute range [C_lo, C_hi] the estimate used (the compute-limited window), None: all runs.
    window: list | None = None
    #: When inconclusive: the smallest change that would decide it, in one line.
    to_decide: str = ""

    def to_dict(self) -> dict:
        return _jsonable(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, d: dict) -> ClaimRecord:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None if math.isnan(x) else (1e308 if x > 0 else -1e308)
    return x


def module_finding(doc: str | None) -> tuple[str | None, str | None]:
    """``(finding, source)`` from a claim module's docstring: its first sentence, and the text of its
    "Source: ..." paragraph, whitespace-collapsed (None where absent).

    The report heads each group of claims with the finding it tests and where it comes from; the
    docstring is where every claim module already states both.
    """
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", doc or "")]
    paragraphs = [p for p in paragraphs if p]
    if not paragraphs:
        return None, None
    # a sentence ends at . ! or ? before a capital letter ("et al. 2020" and "Fig. 1" do not end one)
    finding = re.split(r"(?<=[.!?])\s+(?=[A-Z\"'(])", paragraphs[0], maxsplit=1)[0]
    source = next((p[len("Source:"):].strip() for p in paragraphs if p.startswith("Source:")), None)
    return finding, source or None


def take_records() -> list[ClaimRecord]:
    """Return and clear the records made since the last call (in the current log)."""
    return _log.take()


# --------------------------------------------------------------------------- expect

def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _current_test() -> tuple[str, str]:
    env = os.environ.get("PYTEST_CURRENT_TEST", "")
    nodeid = env.rsplit(" (", 1)[0] if env else ""
    name = nodeid.split("::")[-1] if nodeid else ""
    if not name:
        for fr in inspect.stack()[3:]:
            if fr.function.startswith("test"):
                name = fr.function
                break
    return nodeid, name


class Expectation:
    """Region claims on one estimate; each method records and decides (see module doc)."""

    def __init__(self, estimate: Estimate, quantity: str | None = None, claim: str | None = None):
        if not isinstance(estimate, Estimate):
            raise TypeError(f"expect() needs an Estimate (with a CI), got {type(estimate).__name__}")
        self.estimate = estimate
        self.quantity = quantity or estimate.quantity or "estimate"
        self.nodeid, default_name = _current_test()
        self.claim = claim or default_name or self.quantity

    def below(self, x: float) -> Estimate:
        return self._judge(-math.inf, float(x), f"< {_fmt(x)}")

    def above(self, x: float) -> Estimate:
        return self._judge(float(x), math.inf, f"> {_fmt(x)}")

    def between(self, a: float, b: float) -> Estimate:
        if not a < b:
            raise ValueError(f"between(a, b) needs a < b, got ({a}, {b})")
        return self._judge(float(a), float(b), f"in ({_fmt(a)}, {_fmt(b)})")

    def near(self, x: float, tol: float) -> Estimate:
        """Equivalence claim: confirmed when the CI lies inside [x − tol, x + tol]."""
        if not tol > 0:
            raise ValueError(f"near(x, tol) needs tol > 0, got {tol}")
        return self._judge(float(x) - tol, float(x) + tol, f"within {_fmt(tol)} of {_fmt(x)}")

    def _judge(self, low: float, high: float, expected: str) -> Estimate:
        est, level = self.estimate, _log.settings.level_for(self.nodeid)
        lo, hi = est.ci(level)
        p = est.p_value(low, high)
        p_ref = min(est.p_value(-math.inf, low) if math.isfinite(low) else 1.0,
                    est.p_value(high, math.inf) if math.isfinite(high) else 1.0)
        if est.reason:
            verdict, reason = "inconclusive", est.reason
        elif low < lo and hi < high:
            verdict, reason = "confirmed", ""
        elif hi < low or lo > high:  # strictly, as p_refute reads it: a CI of [0, 0] on E's bound refutes nothing
            verdict, reason = "refuted", f"the whole {level:.4g} CI lies outside {expected}"
        else:
            verdict, reason = "inconclusive", f"the {level:.4g} CI [{_fmt(lo)}, {_fmt(hi)}] straddles {expected}"
        details = dict(est.details)
        details.update(p_refute=p_ref, nominal_confidence=_log.settings.confidence,
                       family_size=_log.settings.family_size_for(self.nodeid), family_policy=_log.settings.policy,
                       region=[low, high], flagged=bool(est.reason))
        to_decide = ""
        if verdict == "inconclusive":
            if est.reason:
                to_decide = (est.to_decide
                             or "remove the cause above (the estimate is flagged, more seeds will not help)")
            elif est.details.get("seeds_do_not_decide"):  # an estimator whose interval seeds do not narrow
                to_decide = str(est.details["seeds_do_not_decide"])
            else:
                exponent = est.details.get("seed_exponent")
                if exponent is None and est.samples is None:  # a standard error of seed means: 1/√seeds
                    exponent = 0.5
                factor = seeds_factor(est.value, lo, hi, low, high, level, exponent or 0.5)
                if exponent is None:  # a bootstrap whose shrinkage with seeds is not measured
                    details["seeds_factor_if_sqrt"] = factor
                    to_decide = _unmeasured_words(factor)
                else:
                    details["seeds_factor"] = factor
                    to_decide = _seeds_words(factor, lo, hi, est.value, low, high, exponent)
        window = details.get("window")
        rec = ClaimRecord(
            nodeid=self.nodeid, name=self.claim, quantity=self.quantity, estimate=float(est.value),
            ci_low=lo, ci_high=hi, confidence=level, method=est.method, n_resamples=est.n_resamples,
            expected=expected, verdict=verdict, runs=int(est.runs), p_value=p, reason=reason,
            details=_jsonable(details), window=_jsonable(window), to_decide=to_decide,
        )
        _log.records.append(rec)
        if verdict == "confirmed":
            return est
        msg = self._message(rec)
        if verdict == "refuted":
            raise AssertionError(msg)
        import pytest  # only needed inside a test
        if _log.settings.strict:
            pytest.fail(msg + " (strict mode: inconclusive claims fail)", pytrace=False)
        pytest.skip(msg)

    @staticmethod
    def _message(r: ClaimRecord) -> str:
        res = f", {r.n_resamples} resamples" if r.n_resamples else ""
        decide = f"; to decide: {r.to_decide}" if r.to_decide else ""
        return (f"{r.verdict}: {r.quantity} = {_fmt(r.estimate)}, {r.confidence:.4g} CI "
                f"[{_fmt(r.ci_low)}, {_fmt(r.ci_high)}], expected {r.expected} "
                f"({r.method}{res}, {r.runs} runs) — {r.reason}{decide}")


#: Power asked of "what would decide": the prescribed design decides the claim this often when the
#: truth is the current estimate (z of 0.8 = 0.84).
DECIDE_POWER = 0.8


def seeds_factor(value: float, lo: float, hi: float, low: float, high: float, level: float,
                 exponent: float = 0.5) -> float:
    """How many times today's seeds would decide the claim with probability ``DECIDE_POWER``.

    The estimator's CI half-width h shrinks as seeds^−b (``exponent`` b: 1/2 for a mean; each
    estimator's own b is measured on synthetic chains, ``estimators.pipeline.SEED_EXPONENTS``). At the
    estimate θ, the claim is decided when the CI clears the nearest boundary b of its region
    (confirming or refuting), i.e. when (z_level + z_power)·se' < |θ − b| with se' = (h / z_level)·(n/n')^b.
    Hence n'/n = ((z_level + z_power) · h / (z_level · |θ − b|))^(1/b). Inf when θ sits on a boundary."""
    bounds = [b for b in (low, high) if math.isfinite(b)]
    distance = min(abs(value - b) for b in bounds) if bounds else math.inf
    z_level = scipy.stats.norm.ppf(0.5 + level / 2)
    z_power = scipy.stats.norm.ppf(DECIDE_POWER)
    half = (hi - lo) / 2
    if distance == 0 or not exponent > 0:
        return math.inf
    return float(((z_level + z_power) * half / (z_level * distance)) ** (1 / exponent))


def _unmeasured_words(factor: float) -> str:
    """No seed count for an estimator whose interval's shrinkage with seeds is unmeasured: window-limited,
    lattice and boundary estimators shrink slower than 1/√seeds, so a count would be a guess."""
    guess = f" (≈{factor:.1f}× if it shrank as 1/√seeds, which is not measured)" if math.isfinite(factor) else ""
    return ("no seed count is prescribed: how this estimator's interval shrinks with seeds is not measured"
            f"{guess}; a larger design (more seeds, a wider compute-limited window or LR sweep) may decide it")


def _seeds_words(factor: float, lo: float, hi: float, value: float, low: float, high: float,
                 exponent: float) -> str:
    if not math.isfinite(factor):
        return "the estimate sits on the region's boundary: no number of seeds decides it at this estimate"
    how = (f"this estimator's CI shrinks as seeds^−{exponent:.2g}" +
           (", measured on synthetic chains" if exponent != 0.5 else " (a standard error of seed means)"))
    return (f"≈{factor:.1f}× today's seeds (CI half-width {(hi - lo) / 2:.3g} must clear the nearest boundary, "
            f"{min(abs(value - b) for b in (low, high) if math.isfinite(b)):.3g} away, with "
            f"{DECIDE_POWER:.0%} power; {how})")


def record_undecided(nodeid: str, name: str, reason: str, to_decide: str = "") -> ClaimRecord:
    """Record a claim whose estimate this budget cannot produce (a FitError): inconclusive, no number."""
    rec = ClaimRecord(nodeid=nodeid, name=name, quantity=name, estimate=None, ci_low=None, ci_high=None,
                      confidence=_log.settings.level, method="", n_resamples=None, expected="", verdict="inconclusive",
                      runs=0, p_value=None, reason=reason, details={"flagged": True},
                      to_decide=to_decide or "a larger budget (more widths, fractions or seeds): see the reason")
    _log.records.append(rec)
    return rec


def expect(estimate: Estimate, quantity: str | None = None, claim: str | None = None) -> Expectation:
    """Start a claim on ``estimate``: ``expect(gamma, "γ").between(0, 1)``."""
    return Expectation(estimate, quantity, claim)


# --------------------------------------------------------------------------- Holm

def holm(pvalues) -> np.ndarray:
    """Holm step-down adjusted p-values: adj_(i) = max_{j≤i} min(1, (m−j+1)·p_(j))."""
    p = np.asarray(pvalues, float)
    m = p.size
    order = np.argsort(p, kind="stable")
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj
    return out


def holm_adjust(records: list[ClaimRecord], confidence: float | None = None,
                policy: str = "session") -> list[ClaimRecord]:
    """Session-end family-wise correction (Holm) over the records with a p-value: within each finding
    (``policy="finding"``: claims of one module) or over all of them (``"session"``).

    Each claim is one hypothesis with one decision: its p-value is the smaller of its confirmation and
    refutation p-values (the CI cannot lie both inside and outside the region), Holm adjusts these m
    p-values, and a claim whose adjusted p is ≤ α takes the side that p came from: Holm with
    directional decisions, which bounds the rate of wrong-side decisions by α for independent
    statistics (Shaffer 1980, Ann. Stat. 8:1342; Finner 1999 and Guo & Romano 2015 extend it to some
    dependence). The claims of one finding share runs, so that bound is not proven for them; it is
    more powerful than adjusting confirmations and refutations as two families (each p here is twice
    a one-sided tail). Holm is uniformly more powerful than the Bonferroni used at test time, so
    every claim decided under Bonferroni stays decided (the ends and the p-values read the same
    counted tails). Flagged estimates stay inconclusive and never free a step. Returns new records
    with ``adjusted_p`` and ``adjusted_verdict``.
    """
    records = list(records)
    if confidence is None:
        confs = [r.details.get("nominal_confidence") for r in records if r.details.get("nominal_confidence")]
        confidence = confs[0] if confs else _log.settings.confidence
    alpha = 1 - confidence
    out = list(records)
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        if r.p_value is not None:
            groups.setdefault(family_of(r.nodeid) if policy == "finding" else "", []).append(i)
    for idx in groups.values():
        pc = np.array([records[i].p_value for i in idx], float)
        pr = np.array([1.0 if records[i].details.get("p_refute") is None else records[i].details["p_refute"]
                       for i in idx], float)
        # a flagged claim decides nothing: it keeps its place in the count m but never frees a Holm step
        flagged = np.array([bool(records[i].details.get("flagged")) for i in idx])
        adj = holm(np.where(flagged, 1.0, np.minimum(pc, pr)))
        for j, i in enumerate(idx):
            r = records[i]
            if r.details.get("flagged") or adj[j] > alpha:
                v = "inconclusive"
            else:
                v = "confirmed" if pc[j] <= pr[j] else "refuted"
            out[i] = dataclasses.replace(r, adjusted_p=float(adj[j]), adjusted_verdict=v)
    return out
