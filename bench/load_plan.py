"""What ``bench.load_api`` sends: real, distinct photos of a labelled folder, each proof once, with the lab's verdicts.

A real user proves a habit with a new photo each time, and the replay check
(per user and across users, :mod:`vision.replay`) rightly refuses a photo
already proved with, or an edited copy of one.  A load made of jittered
copies of one bundled photo therefore measures the replay check's copy
paths, not the service.  So the load is built from a labelled folder's real
pairs (``pairs.csv``, :func:`vision.lab.data.read_pairs`):

- a **genuine job** is a labelled same-scene pair of a hand-held kind: its
  reference is registered for a user, its other photo is sent once as the
  proof.  No photo is sent as a genuine proof twice in a run (the cross-user
  index would rightly call the second a replay); when the listed pairs run
  out, a listed pair is used the other way round (its query registered,
  its reference sent);
- a **wrong job** is a labelled different pair (hard, same-kind or easy
  negative).  A photo the rule rejects never enters the replay memory
  (only accepted photos are checked and remembered), so such a pair may be
  sent again; a different pair the rule *accepts* is sent at most once;
- each job's **expected verdict** is the one the tuning lab's engine gives
  that pair with the server's profile (:func:`vision.lab.evaluate.score_folder`,
  features cached on disk), not its label: the bench checks that the
  service under load answers as the rule does alone, and reports the rule's
  own misses apart.

Fixed-camera and synthetic kinds are left out: a tripod re-shoot or a
digitally rotated copy repeats the reference's pixels, which the replay
check flags by design (issue 21's note), so they are not new photos.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vision.core import verdict as v
from vision.lab.data import LabelledPair, LabelledSet, read_pairs
from vision.lab.evaluate import score_folder
from vision.profile import Profile

__all__ = ["FIXED_CAMERA_KINDS", "Job", "LoadPlan", "build_plan", "hand_held", "lab_verdicts", "plan_pairs"]

FIXED_CAMERA_KINDS = frozenset({"light", "light_appearance", "blur"})
"""Kinds shot from a tripod or a webcam (Oxford light/blur, day/night webcams): the pixels repeat."""


def hand_held(kind: str) -> bool:
    """Whether a genuine pair of ``kind`` is two hand-held photos (not a fixed camera, not a digital edit)."""
    return kind not in FIXED_CAMERA_KINDS and not kind.startswith("synthetic")


@dataclass(frozen=True)
class Job:
    """One verification: ``reference`` is registered for the job's user, ``photo`` is sent."""

    reference: str
    photo: str
    label: int
    kind: str
    expected: str
    """``Complete`` or ``You took wrong picture``: the lab's verdict on this pair."""


@dataclass
class LoadPlan:
    """The jobs in sending order and what was left out (``{reason: count}``)."""

    root: Path
    jobs: list[Job]
    left_out: dict[str, int] = field(default_factory=dict)

    @property
    def references(self) -> list[str]:
        """Each reference once, in first-use order: one user each."""
        return list(dict.fromkeys(job.reference for job in self.jobs))

    def without(self, references: set[str], reason: str) -> LoadPlan:
        """This plan less the jobs of ``references``, counted under ``reason`` in ``left_out``."""
        kept = [job for job in self.jobs if job.reference not in references]
        dropped = len(self.jobs) - len(kept)
        left_out = {**self.left_out, reason: dropped} if dropped else dict(self.left_out)
        return LoadPlan(self.root, kept, left_out)


def _reversed(pair: LabelledPair) -> LabelledPair:
    return LabelledPair(pair.query, pair.ref, pair.label, pair.kind)


def plan_pairs(pairs: Sequence[LabelledPair], requests: int, wrong_every: int, seed: int) -> list[LabelledPair]:
    """Pick up to ``requests`` pairs: every ``wrong_every``-th a different pair, the rest genuine, proofs distinct.

    Genuine pairs (hand-held kinds) are taken in a seeded shuffle, listed
    direction first, then reversed; a pair whose photo to send was already
    sent as a genuine proof (or is its own reference) is skipped.  Different
    pairs are taken in a seeded shuffle, those whose reference is already a
    genuine pair's reference first (no extra registration), and repeat when
    they run out.  Returns fewer than ``requests`` pairs when the genuine
    photos run out: the plan stops rather than resend one.
    """
    if requests < 1:
        raise ValueError(f"requests must be >= 1, got {requests}")
    if wrong_every < 0:
        raise ValueError(f"wrong_every must be >= 0, got {wrong_every}")
    rng = np.random.default_rng(seed)
    genuine = [p for p in pairs if p.label == 1 and hand_held(p.kind)]
    genuine = [genuine[i] for i in rng.permutation(len(genuine))]
    sent: set[str] = set()
    chosen_genuine: list[LabelledPair] = []
    for pair in itertools.chain(genuine, map(_reversed, genuine)):
        if pair.query in sent or pair.query == pair.ref:
            continue
        sent.add(pair.query)
        chosen_genuine.append(pair)
    references = {p.ref for p in chosen_genuine}
    negatives = [p for p in pairs if p.label == 0]
    negatives = [negatives[i] for i in rng.permutation(len(negatives))]
    negatives.sort(key=lambda p: p.ref not in references)  # stable: the shuffle within each group stays
    wrong = itertools.cycle(negatives) if negatives and wrong_every > 0 else iter(())
    out: list[LabelledPair] = []
    next_genuine = iter(chosen_genuine)
    for i in range(requests):
        if wrong_every > 0 and i % wrong_every == wrong_every - 1:
            pair = next(wrong, None)
        else:
            pair = next(next_genuine, None)
            if pair is None:
                break
        if pair is not None:
            out.append(pair)
    return out


def lab_verdicts(root: Path, pairs: Sequence[LabelledPair], profile: Profile) -> list[str | None]:
    """The lab engine's verdict per pair with ``profile`` (None: the pair cannot be processed)."""
    unique = list(dict.fromkeys(pairs))
    digest = hashlib.sha256(repr([(p.ref, p.query) for p in unique]).encode()).hexdigest()[:16]
    labelled = LabelledSet(root, f"load plan of {root}", f"load-plan:{root.resolve()}:{digest}", unique)
    scored, _ = score_folder(labelled, profile, profile.rule)
    accepted, ok = scored.accepted_by(), scored.ok
    verdict = {p: (v.COMPLETE if accepted[i] else v.WRONG_PICTURE) if ok[i] else None for i, p in enumerate(unique)}
    return [verdict[p] for p in pairs]


LabVerdicts = Callable[[Path, Sequence[LabelledPair], Profile], list[str | None]]


def build_plan(
    data_dir: str | Path,
    requests: int,
    wrong_every: int,
    seed: int,
    profile: Profile,
    verdicts: LabVerdicts = lab_verdicts,
) -> LoadPlan:
    """The load of ``requests`` verifications from the labelled folder ``data_dir`` (see the module's docstring).

    ``verdicts``: each chosen pair's expected verdict (default: the lab engine's, :func:`lab_verdicts`).
    """
    root = Path(data_dir)
    chosen = plan_pairs(read_pairs(root), requests, wrong_every, seed)
    left_out: dict[str, int] = {}
    if len(chosen) < requests:
        left_out["genuine photos ran out (each is sent once)"] = requests - len(chosen)
    jobs: list[Job] = []
    # requests run concurrently, so "sent before" has no order: a photo the rule accepts goes out once in the run
    once = {p.query for p in chosen if p.label == 1}
    for pair, expected in zip(chosen, verdicts(root, chosen, profile), strict=True):
        reason = None
        if expected is None:
            reason = "pair the lab cannot process"
        elif pair.label == 0 and expected == v.COMPLETE:
            if pair.query in once:
                reason = "different pair the rule accepts, its photo sent elsewhere"
            once.add(pair.query)
        if reason is not None:
            left_out[reason] = left_out.get(reason, 0) + 1
            continue
        jobs.append(Job(pair.ref, pair.query, pair.label, pair.kind, str(expected)))
    return LoadPlan(root, jobs, left_out)
