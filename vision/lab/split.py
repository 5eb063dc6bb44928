"""Hold out whole scenes: a threshold is judged on scenes it was not picked on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vision.lab.data import LabelledPair


@dataclass(frozen=True)
class Split:
    """Pair positions of the training and held-out parts, and their scenes."""

    train: np.ndarray
    holdout: np.ndarray
    train_scenes: tuple[str, ...]
    holdout_scenes: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "train_pairs": int(self.train.size),
            "holdout_pairs": int(self.holdout.size),
            "train_scenes": list(self.train_scenes),
            "holdout_scenes": list(self.holdout_scenes),
        }


def split_by_scene(pairs: Sequence[LabelledPair], holdout_fraction: float = 0.3, seed: int = 0) -> Split:
    """Hold out whole scenes (the reference's folder) until about ``holdout_fraction`` of the pairs.

    Scenes are shuffled with ``seed`` (deterministic) and taken in that order
    while the held-out part stays within 1.25 times the fraction (a scene that
    would overshoot is skipped); both parts keep at least one scene when there
    are two or more.
    """
    if not 0 <= holdout_fraction < 1:
        raise ValueError(f"holdout_fraction must be in [0, 1), got {holdout_fraction}")
    scenes = np.array([p.scene for p in pairs])
    names = sorted(set(scenes.tolist()))
    order = np.random.default_rng(seed).permutation(len(names))
    sizes = {n: int((scenes == n).sum()) for n in names}
    budget = holdout_fraction * len(pairs)
    held: list[str] = []
    count = 0
    if holdout_fraction > 0 and len(names) > 1:
        for j in order:  # take scenes in shuffled order while they fit the budget
            if len(held) < len(names) - 1 and count + sizes[names[j]] <= budget * 1.25:
                held.append(names[j])
                count += sizes[names[j]]
        if not held:  # every scene is larger than the budget: the first smallest one
            held.append(min((names[j] for j in order), key=sizes.__getitem__))
    mask = np.isin(scenes, held)
    train_scenes = tuple(n for n in names if n not in held)
    return Split(np.flatnonzero(~mask), np.flatnonzero(mask), train_scenes, tuple(sorted(held)))
