"""Cost of the Verify page's cheap step: a rule's view (vision.views.match) and its picture (vision.views.draw).

A slider move reruns the decision, the view and the drawing on cached
matches, so these must stay small next to the decision itself.  Prints
medians over ``--runs`` repetitions on the bundled facade pair (DSC_0410 /
DSC_0411, about 700 inliers) at the default working resolution:

* ``decide``: ratio test + MAGSAC + the fused decision (``decide_matched`` + ``outcome_of``, as the pages);
* ``view``: :func:`vision.views.match.match_view` (lines, figures, headline);
* ``draw``: :func:`vision.views.draw.draw_match_view` (100 surest lines, outline, legend);
* ``draw+others``: the same with the faint layer of uncounted matches;
* ``old draw``: the previous :func:`vision.views.draw.draw_matches` (inliers and rejected), for comparison.

Usage: ``python -m bench.bench_match_view [--runs 21]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from vision.flows.prepare import prepare_photo
from vision.flows.verify import decide_matched
from vision.profile import Profile
from vision.rules.base import Needs
from vision.rules.evidence import match_features
from vision.views.draw import draw_match_view, draw_matches
from vision.views.match import match_view
from vision.views.outcome import outcome_of

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "images" / "lightglue"


def median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args(argv)
    profile = Profile()
    ref, query = (
        prepare_photo((SAMPLES / name).read_bytes(), profile.feature_settings, needs=Needs(embedding=True))
        for name in ("DSC_0410.JPG", "DSC_0411.JPG")
    )
    pair = match_features(ref.features, query.features)
    sizes = ((ref.image.shape[1], ref.image.shape[0]), (query.image.shape[1], query.image.shape[0]))

    def decide():  # the pages' cheap step: the rule's decision on cached matches, as its view takes it
        return outcome_of(decide_matched(pair, query, profile, rule="fused"), profile, *sizes)

    outcome = decide()
    view = match_view(outcome, "building")
    steps = {
        "decide": decide,
        "view": lambda: match_view(outcome, "building"),
        "draw": lambda: draw_match_view(ref.image, query.image, view),
        "draw+others": lambda: draw_match_view(ref.image, query.image, view, show_others=True),
        "old draw": lambda: draw_matches(
            ref.image, ref.features, query.image, query.features, pair.candidates, outcome.evidence
        ),
    }
    print(f"facade pair: {len(view.counted)} counted, {len(view.others)} not counted; median of {args.runs} runs")
    for name, fn in steps.items():
        print(f"{name:12s} {median_ms(fn, args.runs):7.1f} ms")


if __name__ == "__main__":
    main()
