"""Paper Table 2/3 in miniature on the synthetic benchmark (the script form of ``seco bench ablation``).

    python benchmarks/cooccurrence.py --variants baseline seco_public seco_paper --seeds 0 1 2
    python benchmarks/cooccurrence.py --variants baseline seco_paper --seeds 0 train.iterations=1500

Trains every variant from the same start once per seed, evaluates CAM, mask
and seg on the val split, and prints mean ± std of mIoU and of the confusion
ratio FP/TP of the context classes, at the config's background score and at
each run's score chosen on the train split (``seco.bench.threshold``).
Writes ablation.json and ablation.md into ``--runs`` and a copy of the JSON
to ``--out``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from seco.bench import VARIANTS, run_ablation
from seco.bench.ablation import target_lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--runs", type=Path, default=Path("runs/cooccurrence"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/cooccurrence.json"))
    parser.add_argument("overrides", nargs="*", help="config overrides applied to every variant")
    args = parser.parse_args()
    doc = run_ablation(args.variants, args.seeds, args.runs, args.overrides)
    print((args.runs / "ablation.md").read_text())
    for line in target_lines(doc):
        print(line)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2))
    print(f"wrote {args.runs / 'ablation.md'} and {args.out}")


if __name__ == "__main__":
    main()
