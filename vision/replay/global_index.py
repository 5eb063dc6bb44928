"""Across users: an index of recent accepted proofs that flags a photo another user already proved with.

Privacy: an entry is a *compact* fingerprint: the four pHashes and the
strongest AKAZE keypoints (positions and binary descriptors) of an accepted
photo, with a blank 1x1 thumbnail: no picture, and no user id, stored
beside it (:func:`compact_entry`).  The store keeps the newest
``replay_global_keep`` entries (:class:`vision.store.proofs.GlobalProofIndex`),
so it is bounded and survives restarts; each process keeps the entries it
has read in memory (:class:`IndexCache`) and reads only new ones.

Without a thumbnail the decision rests on the keypoints
(:func:`keypoint_copy`): a copy brings back a large share of the strongest
keypoints, all on one homography with sub-pixel error; another user's own
photo of the same landmark brings back fewer, with parallax.
"""

from __future__ import annotations

import hashlib
import weakref
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from vision.matchers.akaze import Features
from vision.replay.align import fingerprint_alignment
from vision.replay.check import Candidate, rank_candidates
from vision.replay.fingerprint import Fingerprint, fingerprint_from_bytes, fingerprint_to_bytes
from vision.store.proofs import GlobalProofIndex

__all__ = ["ANOTHER_USER", "IndexCache", "IndexHit", "compact_entry", "entry_digest", "find_in_index", "keypoint_copy"]

ANOTHER_USER = "another user's proof"
MIN_INLIERS = 12
MIN_FRACTION = 0.4
MAX_REPROJ_PX = 0.6
"""A keypoint copy: >= 12 inliers, >= 40 % of the entry's keypoints, median error <= 0.6 working px.
On the edit set (``scripts/replay_edit_set.py``), of copies of a proof aligned by their own keypoints 58 %
pass, and 0 of 38 genuine photos against an earlier proof of the same scene."""
FULL_CHECKS = 2
RANK_POINTS = 8
RANK_QUERY_POINTS = 500
"""The index is ranked on each entry's 8 strongest keypoints against the new photo's 500 strongest (bounded time)."""


def compact_entry(fp: Fingerprint) -> bytes:
    """The index entry of a fingerprint: hashes and keypoints, no picture (a 1x1 blank thumbnail), no anchor."""
    return fingerprint_to_bytes(replace(fp, thumb=np.zeros((1, 1), np.uint8), anchor=None, anchor_key=""))


def entry_digest(entry: bytes) -> str:
    """32 hex digits of the entry's SHA-256: its name's tail, so a user's own remembered proofs can be told apart."""
    return hashlib.sha256(entry).hexdigest()[:32]


@dataclass(frozen=True)
class IndexHit:
    """A copy of an index entry: how many of its keypoints came back, and how exactly."""

    proof_id: str
    n_points: int
    n_inliers: int
    reproj_px: float

    def to_json(self) -> dict[str, float | int]:
        return {"n_points": self.n_points, "n_inliers": self.n_inliers, "reproj_px": round(self.reproj_px, 2)}


def keypoint_copy(entry: Fingerprint, query: Features) -> tuple[bool, int, float]:
    """``(copy, n_inliers, reproj_px)`` of the entry's keypoints in the new photo (:data:`MIN_INLIERS` ...)."""
    H, _, n_in, reproj = fingerprint_alignment(entry, query)
    if H is None:
        return False, 0, float("inf")
    copy = n_in >= MIN_INLIERS and n_in >= MIN_FRACTION * max(len(entry), 1) and reproj <= MAX_REPROJ_PX
    return copy, n_in, reproj


def find_in_index(entries: list[tuple[str, Fingerprint]], query: Features, exclude: set[str]) -> IndexHit | None:
    """The entry the new photo copies, or None.

    Entries whose id ends with a digest in ``exclude`` (the user's own
    remembered proofs) are skipped; the others are ranked by their strongest
    keypoints (:func:`vision.replay.check.rank_candidates`, one brute-force
    search) and the :data:`FULL_CHECKS` likeliest aligned.
    """
    kept = [(pid, fp) for pid, fp in entries if pid[-32:] not in exclude and len(fp) > 0]
    if not kept:
        return None
    candidates = [Candidate(ANOTHER_USER, fp) for _, fp in kept]
    order = rank_candidates(candidates, query, RANK_POINTS, RANK_QUERY_POINTS)[:FULL_CHECKS]
    for index in order:
        proof_id, fp = kept[int(index)]
        copy, n_in, reproj = keypoint_copy(fp, query)
        if copy:
            return IndexHit(proof_id, len(fp), n_in, reproj)
    return None


class IndexCache:
    """The index entries a process has read, per store; :meth:`entries` lists the store and reads only new ones."""

    def __init__(self) -> None:
        self._by_store: weakref.WeakKeyDictionary[Any, dict[str, Fingerprint]] = weakref.WeakKeyDictionary()

    def entries(self, store: GlobalProofIndex, limit: int) -> list[tuple[str, Fingerprint]]:
        """``(proof_id, fingerprint)`` of the newest ``limit`` entries (unreadable ones skipped)."""
        try:
            known = self._by_store.setdefault(store, {})
        except TypeError:  # a store that cannot be weakly referenced: no caching
            known = {}
        listed = store.list_global_proofs(limit, load=False)
        ids = {r.proof_id for r in listed}
        for stale in set(known) - ids:
            del known[stale]
        for record in listed:
            if record.proof_id not in known:
                blob = store.load_global_proof(record.proof_id)
                if blob is None:
                    continue
                try:
                    known[record.proof_id] = fingerprint_from_bytes(blob)
                except ValueError:
                    continue
        return [(r.proof_id, known[r.proof_id]) for r in listed if r.proof_id in known]
