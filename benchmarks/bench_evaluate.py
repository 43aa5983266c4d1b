"""The whole NAB corpus through ``seriesguard evaluate``: wall time of every default detector
and variant (training, point-by-point scoring, threshold tuning per profile), against the
issue's 10 minutes. Baseline, in the same run: the seed's z-score alone through the same
pipeline, which is mostly the fixed cost (reading the corpus, tuning three thresholds).

    .venv/bin/python benchmarks/bench_evaluate.py [--nab ../shared/datasets/nab]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.results import Figure, publish

from seriesguard.evaluation.corpus import NabCorpus
from seriesguard.evaluation.runner import evaluate
from seriesguard.evaluation.variants import default_variants, parse_variants

NAB = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "nab"
TARGET_SECONDS = 600.0


def timed(nab: Path, specs: list[str] | None) -> tuple[float, float]:
    """Seconds for the corpus (read included) and the best standard-profile score."""
    started = time.perf_counter()
    variants = default_variants() if specs is None else parse_variants(specs)
    result = evaluate(NabCorpus(nab), variants=variants, max_points=100_000)
    best = max(r.profiles["standard"].score for r in result.results)
    return time.perf_counter() - started, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nab", type=Path, default=NAB)
    args = parser.parse_args()
    baseline, _ = timed(args.nab, ["statistical"])
    seconds, best = timed(args.nab, None)
    count = len(default_variants())
    publish(
        "evaluation",
        [
            Figure(
                id="evaluation.nab_corpus_all_detectors",
                title=f"seriesguard evaluate, whole NAB corpus, {count} detectors and variants",
                value=round(seconds, 1),
                unit="s",
                baseline=round(baseline, 1),
                baseline_label="the z-score alone, same pipeline",
                target=TARGET_SECONDS,
                target_label="< 10 min",
                notes=f"best standard-profile score {best:.1f}",
            )
        ],
    )


if __name__ == "__main__":
    main()
