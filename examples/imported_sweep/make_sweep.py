"""Write sweep.csv: a stand-in for a tracker export of another model family's sweep.

Its own column names (n_params, tokens_seen, eval_loss, run_seed), final losses only, 2 seeds,
6 sizes × 9 token budgets. The losses follow L = 1.69 + 406.4/N^0.34 + 410.7/D^0.28 (Hoffmann et
al. 2022's fit) with multiplicative noise that is largest at the smallest budgets, so the claims
have a known truth: N_opt ∝ C^γ with γ = 0.28 / (0.34 + 0.28) ≈ 0.45 for C = 6·N·D.
"""

import argparse
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).with_name("sweep.csv")))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    lines = ["n_params,tokens_seen,eval_loss,run_seed"]
    for n in (1e6, 2e6, 4e6, 8e6, 16e6, 32e6):
        for k in range(9):
            d = 1e6 * 2 ** k
            for seed in (0, 1):
                noise = 0.02 - 0.0015 * k  # noisiest at the smallest budgets
                loss = (1.69 + 406.4 / n ** 0.34 + 410.7 / d ** 0.28) * np.exp(rng.normal(0, noise))
                lines.append(f"{n:.0f},{d:.0f},{loss:.6f},{seed}")
    Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
