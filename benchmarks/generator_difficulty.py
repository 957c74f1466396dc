"""How hard the generated data is, per scenario (see core/data/difficulty.py).

.venv/bin/python benchmarks/generator_difficulty.py [--claims 20000] [--seed 11]
"""

from __future__ import annotations

import argparse

from core.data.difficulty import measure
from core.data.generator import SCENARIOS, GeneratorConfig, generate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--claims", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    print(
        "| scenario | fraud rate | oracle AUC | structured LR AUC | narrative TF-IDF AUC | sentiment TF-IDF macro-F1 |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for scenario in SCENARIOS:
        d = measure(generate(GeneratorConfig(claims=args.claims, seed=args.seed, scenario=scenario)))
        cells = [d.fraud_rate, d.oracle_auc, d.structured_auc, d.narrative_auc, d.sentiment_macro_f1]
        print(f"| {scenario} | " + " | ".join(f"{value:.3f}" for value in cells) + " |")


if __name__ == "__main__":
    main()
