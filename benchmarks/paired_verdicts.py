"""Do two sessions on the same runs' design (e.g. fp32 and bf16) give the same window and verdicts?

    python benchmarks/paired_verdicts.py A/report.json B/report.json [--markdown]

Prints both windows (and how many half-octave slices their ends differ by) and every claim's estimate,
CI and verdict in both. A claim decided one way in A and another way (or undecided) in B is a
disagreement unless both of its intervals touch the claim's region boundary (then seed noise, not
the perturbation, decides it). Exits 1 on a disagreement or when a window end moves by more than one
slice; the precision claims (which compare the two) are left out.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

SLICE = math.log(2) / 2  # half an octave of compute


def _touches(claim: dict) -> bool:
    """Whether the claim's interval reaches a finite boundary of its region."""
    lo, hi = claim.get("ci_low"), claim.get("ci_high")
    region = (claim.get("details") or {}).get("region") or []
    if lo is None or hi is None:
        return False
    return any(b is not None and math.isfinite(b) and lo <= b <= hi for b in region)


def _verdict(claim: dict) -> str:
    return claim.get("adjusted_verdict") or claim.get("verdict") or "?"


def compare(a: dict, b: dict) -> tuple[list[dict], list[str]]:
    """Per claim (by name) both sides, and the problems found."""
    problems = []
    wa, wb = (a.get("design") or {}).get("window"), (b.get("design") or {}).get("window")
    if wa and wb:
        moves = [abs(math.log(y / x)) / SLICE for x, y in zip(wa, wb)]
        if max(moves) > 1 + 1e-6:
            problems.append(f"window ends move by {moves[0]:.1f} and {moves[1]:.1f} slices")
    elif wa != wb:
        problems.append(f"one session has no window: {wa} vs {wb}")
    rows = []
    bs = {c["name"]: c for c in b.get("claims", [])}
    for ca in a.get("claims", []):
        if "precision" in str(ca.get("nodeid", "")) or ca["name"] not in bs:
            continue
        cb = bs[ca["name"]]
        va, vb = _verdict(ca), _verdict(cb)
        agree = va == vb or (_touches(ca) and _touches(cb))
        if not agree:
            problems.append(f"{ca['name']}: {va} vs {vb}")
        rows.append({"name": ca["name"], "a": ca, "b": cb, "agree": agree})
    return rows, problems


def _num(x) -> str:
    return "—" if x is None else f"{x:.3g}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("--markdown", action="store_true", help="print the claims as a Markdown table")
    args = parser.parse_args(argv)
    a, b = (json.loads(p.read_text()) for p in (args.a, args.b))
    rows, problems = compare(a, b)
    for name, r in (("A", a), ("B", b)):
        d = r.get("design") or {}
        w = d.get("window")
        print(f"{name}: {r.get('precision')} window {_num(w[0]) if w else '—'}–{_num(w[1]) if w else '—'} FLOPs "
              f"({d.get('window_slices')} slices)")
    if args.markdown:
        print(f"\n| claim | {a.get('precision')} estimate [CI] | verdict | {b.get('precision')} estimate [CI] "
              f"| verdict |\n|---|---|---|---|---|")
    for row in rows:
        ca, cb = row["a"], row["b"]
        cells = [f"{_num(c.get('estimate'))} [{_num(c.get('ci_low'))}, {_num(c.get('ci_high'))}]" for c in (ca, cb)]
        name = row["name"].removeprefix("test_")
        if args.markdown:
            print(f"| {name} | {cells[0]} | {_verdict(ca)} | {cells[1]} | {_verdict(cb)} |")
        else:
            print(f"{'  ' if row['agree'] else '≠ '}{name}: {cells[0]} {_verdict(ca)} | {cells[1]} {_verdict(cb)}")
    for p in problems:
        print(f"disagreement: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
