"""The replay rule inside the verify flow: reference + remembered proofs -> verdict.

:func:`apply_replay_rule` runs after a verification accepted a photo: it
checks the new photo against the reference's fingerprint and the user's
remembered proofs (newest first); a replay turns ``Complete`` into ``You
took wrong picture`` with ``replay: true`` and a reason naming the earlier
photo; a genuine new photo is remembered as an accepted proof.  Every
verify answer carries ``replay`` (False when the check did not run).

Store trouble while reading the memory fails *open* (the photo was already
matched; the extras say ``replay_check: "unavailable"``) and is logged: a
store outage should not block every user's habit.
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np
from PIL import Image

from vision.core import verdict as v
from vision.matchers.akaze import Features, decode_working
from vision.profile import Profile
from vision.replay.check import Alignment, Candidate, ReplayFinding, ReplayThresholds, find_replay
from vision.replay.fingerprint import Fingerprint, fingerprint_from_bytes, fingerprint_to_bytes, make_fingerprint
from vision.replay.global_index import ANOTHER_USER, IndexCache, compact_entry, entry_digest, find_in_index
from vision.replay.residual import mirrored_features
from vision.store.base import ReferenceRecord, ReferenceStore, StoreError
from vision.store.proofs import GlobalProofIndex, ProofMemory

__all__ = [
    "ReplayOutcome",
    "apply_replay_rule",
    "capture_time_extras",
    "composed_alignment",
    "reference_fingerprint",
    "replay_thresholds",
    "verification_alignment",
    "with_replay_verdict",
]

log = logging.getLogger("vision.replay.check")

_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 36867
_OFFSET_TIME_ORIGINAL = 36881


def replay_thresholds(thresholds: Profile) -> ReplayThresholds:
    """The replay check's numbers from the profile."""
    return ReplayThresholds(**{f.name: getattr(thresholds, f"replay_{f.name}") for f in fields(ReplayThresholds)})


@dataclass(frozen=True)
class ReplayOutcome:
    """What the replay rule found: the finding (None when it did not run) and the JSON extras."""

    finding: ReplayFinding | None
    extras: dict[str, Any]


def reference_fingerprint(store: ReferenceStore, record: ReferenceRecord, features: Features) -> Fingerprint:
    """The reference's stored fingerprint, or one made from its image (and saved back).

    Raises the store's errors and :class:`vision.core.errors.ImageInputError`.
    """
    blob = cast(ProofMemory, store).load_fingerprint(record.key)
    if blob is not None:
        try:
            return fingerprint_from_bytes(blob)
        except ValueError:
            log.warning("the fingerprint of %s is unreadable: recomputed", record.key)
    working, _ = decode_working(store.load_image(record.key), features.settings)
    fingerprint = make_fingerprint(working, features)
    try:
        cast(ProofMemory, store).save_fingerprint(record.key, fingerprint_to_bytes(fingerprint))
    except StoreError as exc:  # the check still works this time
        log.warning("could not save the fingerprint of %s: %s", record.key, exc)
    return fingerprint


def composed_alignment(proof: Fingerprint, reference_key: str, alignment: Alignment | None) -> Alignment | None:
    """Proof -> new photo through the reference: this verification's H times the inverse of the proof's own.

    Only for a proof accepted against the same reference; approximate off the
    scene's dominant plane, so it is a fallback (:attr:`Alignment.fallback`)
    for when the proof's keypoints alone do not align (a blurred screen photo).
    """
    if alignment is None or proof.anchor is None or proof.anchor_key != reference_key:
        return None
    try:
        H = alignment.H @ np.linalg.inv(proof.anchor)
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(H)):
        return None
    return Alignment(H, alignment.n_inliers, proof.size, fallback=True)


_INDEX = IndexCache()
"""This process's copy of the cross-user index (entries read once, then only new ones)."""


def _index_entries(store: ReferenceStore, keep: int) -> list[tuple[str, Fingerprint]]:
    """The cross-user index's newest ``keep`` entries; [] when off, unsupported or unreadable (fail open, logged)."""
    if keep <= 0 or not isinstance(store, GlobalProofIndex):
        return []
    try:
        return _INDEX.entries(store, keep)
    except Exception as exc:  # the index is an extra: its outage must not block the user's own check
        log.error("replay index unavailable: %s: %s", type(exc).__name__, exc)
        return []


def _remember_globally(store: ReferenceStore, query_fp: Fingerprint, keep: int) -> None:
    """Add an accepted photo's compact fingerprint to the cross-user index (best effort)."""
    if keep <= 0 or not isinstance(store, GlobalProofIndex):
        return
    entry = compact_entry(query_fp)
    try:
        store.add_global_proof(entry, keep=keep, digest=entry_digest(entry))
    except (StoreError, ValueError) as exc:
        log.warning("could not add a proof to the replay index: %s", exc)


def _proof_label(created_at: datetime) -> str:
    return f"your proof accepted at {created_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def apply_replay_rule(
    store: ReferenceStore,
    record: ReferenceRecord,
    ref_features: Features,
    query_image: np.ndarray,
    query_features: Features,
    thresholds: Profile,
    gate: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext,
    alignment: Alignment | None = None,
    *,
    others: Sequence[tuple[ReferenceRecord, Features]] = (),
) -> ReplayOutcome:
    """Check an accepted photo against the reference, the habit's other references and the remembered proofs.

    Parameters
    ----------
    query_image : np.ndarray
        ``(H, W, 3)`` BGR uint8 working image of the new photo.
    query_features : Features
        Its AKAZE features.
    gate : callable returning a context manager
        Held around the CPU work (not around store I/O).
    alignment : Alignment, optional
        The verification's reference -> new photo homography (see
        :func:`verification_alignment`); aligns the reference where its
        fingerprint's keypoints alone may not (a blurred screen photo).
    others : sequence of (ReferenceRecord, Features)
        The habit's other references: a copy of any of them is a replay too
        (aligned by their fingerprints' own keypoints).

    Returns
    -------
    ReplayOutcome
        ``extras`` always has ``replay`` (bool); with a finding also
        ``replay_of`` (which earlier photo), ``replay_evidence`` and the
        check's time in ``replay_ms``.  A genuine photo's fingerprint is
        added to the user's proofs (retention ``thresholds.replay_keep``) and,
        compact and without the user's id, to the cross-user index
        (``thresholds.replay_global_keep``, 0 = off); a copy of an entry
        that is not one of the user's own proofs is ``replay_of`` kind
        ``another_user`` ("another user's proof", never who).
    """
    if thresholds.replay_check != "on":
        return ReplayOutcome(None, {"replay": False, "replay_check": "off"})
    start = time.perf_counter()
    try:  # store I/O first, outside the CPU gate
        ref_fp = reference_fingerprint(store, record, ref_features)
        candidates = [Candidate("the reference photo", ref_fp, record.key, alignment)]
        for other, features in others:
            label = f"your reference registered at {other.created_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
            candidates.append(Candidate(label, reference_fingerprint(store, other, features), other.key))
        own: set[str] = set()
        for proof in cast(ProofMemory, store).list_proofs(record.user_id, limit=thresholds.replay_keep):
            try:
                fingerprint = fingerprint_from_bytes(proof.fingerprint)
            except ValueError:
                log.warning("skipping an unreadable proof fingerprint of %s", record.user_id)
                continue
            own.add(entry_digest(compact_entry(fingerprint)))
            via_reference = composed_alignment(fingerprint, record.key, alignment)
            candidates.append(Candidate(_proof_label(proof.created_at), fingerprint, proof.proof_id, via_reference))
    except Exception as exc:  # store or image trouble: fail open, say so
        log.error("replay check of %s unavailable: %s: %s", record.key, type(exc).__name__, exc)
        return ReplayOutcome(None, {"replay": False, "replay_check": "unavailable"})
    entries = _index_entries(store, thresholds.replay_global_keep)
    hit = None
    with gate():
        query_fp = make_fingerprint(query_image, query_features)
        finding = find_replay(
            candidates,
            query_features,
            query_fp,
            replay_thresholds(thresholds),
            mirrored=lambda: mirrored_features(query_image, query_features.settings),
        )
        if not finding.replay:
            hit = find_in_index(entries, query_features, own)
    extras: dict[str, Any] = {"replay": finding.replay, "replay_check": "on", "replay_checked": finding.checked}
    if finding.evidence is not None:
        extras["replay_evidence"] = finding.evidence.to_json()
    if hit is not None:
        why = (
            f"it repeats {ANOTHER_USER}: {hit.n_inliers} of its {hit.n_points} strongest keypoints come back "
            f"on one homography (median error {hit.reproj_px:.2f} px)"
        )
        finding = replace(finding, replay=True, reason=why, candidate=None)
        extras.update(
            replay=True, replay_of={"kind": "another_user", "label": ANOTHER_USER}, replay_index=hit.to_json()
        )
    elif finding.replay and finding.candidate is not None:
        references = {record.key, *(other.key for other, _ in others)}
        kind = "reference" if finding.candidate.key in references else "proof"
        extras["replay_of"] = {"kind": kind, "id": finding.candidate.key, "label": finding.candidate.label}
    else:
        try:
            anchored = replace(query_fp, anchor=None if alignment is None else alignment.H, anchor_key=record.key)
            memory = cast(ProofMemory, store)
            memory.add_proof(record.user_id, fingerprint_to_bytes(anchored), keep=thresholds.replay_keep)
        except (StoreError, ValueError) as exc:
            log.warning("could not remember the proof of %s: %s", record.user_id, exc)
        _remember_globally(store, query_fp, thresholds.replay_global_keep)
    extras["replay_ms"] = round((time.perf_counter() - start) * 1000.0, 2)
    return ReplayOutcome(finding, extras)


def with_replay_verdict(verdict: v.Verdict, outcome: ReplayOutcome) -> v.Verdict:
    """``verdict`` with the replay extras; a replay becomes ``200 You took wrong picture``."""
    extra = {**verdict.extra, **outcome.extras}
    finding = outcome.finding
    if finding is not None and finding.replay:
        reason = f"not a new photo: {finding.reason}"
        return v.Verdict(200, v.WRONG_PICTURE, False, reason, extra)
    return v.Verdict(verdict.status, verdict.message, verdict.result, verdict.reason, extra)


def capture_time_extras(data: bytes, max_age_h: float, now: datetime | None = None) -> dict[str, Any]:
    """EXIF ``DateTimeOriginal`` of the upload against a window (``max_age_h``; 0 = off).

    Returns ``{}`` when off; else ``{"capture_time": {...}}`` with
    ``taken_at`` (None when the photo has no such tag: many apps strip it),
    ``age_h`` and ``too_old``.  A time without ``OffsetTimeOriginal`` is
    read as UTC (phones write local time: up to +-14 h off, so keep the
    window generous).  Only the header is parsed.
    """
    if max_age_h <= 0:
        return {}
    taken = _exif_datetime_original(data)
    if taken is None:
        return {"capture_time": {"taken_at": None, "age_h": None, "too_old": False, "max_age_h": max_age_h}}
    age_h = ((now or datetime.now(UTC)) - taken).total_seconds() / 3600.0
    return {
        "capture_time": {
            "taken_at": taken.isoformat(),
            "age_h": round(age_h, 2),
            "too_old": age_h > max_age_h,
            "max_age_h": max_age_h,
        }
    }


def _exif_datetime_original(data: bytes) -> datetime | None:
    """The EXIF capture time as an aware datetime, or None (absent, unreadable, not an image)."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            exif = img.getexif().get_ifd(_EXIF_IFD)
    except Exception:  # not an image or a broken EXIF block: simply no capture time
        return None
    raw, offset = exif.get(_DATETIME_ORIGINAL), exif.get(_OFFSET_TIME_ORIGINAL)
    if not isinstance(raw, str):
        return None
    try:
        taken = datetime.strptime(raw.strip()[:19], "%Y:%m:%d %H:%M:%S")
        if isinstance(offset, str) and offset.strip():
            return datetime.strptime(f"{raw.strip()[:19]}{offset.strip()}", "%Y:%m:%d %H:%M:%S%z")
    except ValueError:
        return None
    return taken.replace(tzinfo=UTC)


def save_reference_fingerprint(
    store: ReferenceStore, record: ReferenceRecord, working: np.ndarray, features: Features
) -> None:
    """Store a new reference's fingerprint beside it (best effort: it is recomputed when missing)."""
    try:
        blob = fingerprint_to_bytes(make_fingerprint(working, features))
        cast(ProofMemory, store).save_fingerprint(record.key, blob)
    except (StoreError, ValueError, AttributeError) as exc:
        log.warning("could not store the fingerprint of %s: %s", record.key, exc)


def check_against_reference(
    ref_image: np.ndarray,
    ref_features: Features,
    query_image: np.ndarray,
    query_features: Features,
    thresholds: Profile,
    alignment: Alignment | None = None,
) -> ReplayOutcome:
    """The replay rule without a store (CLI, dashboard): the new photo against the reference only.

    ``ref_image`` and ``query_image`` are ``(H, W, 3)`` BGR uint8 working images.
    """
    if thresholds.replay_check != "on":
        return ReplayOutcome(None, {"replay": False, "replay_check": "off"})
    start = time.perf_counter()
    ref_fp = make_fingerprint(ref_image, ref_features)
    query_fp = make_fingerprint(query_image, query_features)
    candidates = [Candidate("the reference photo", ref_fp, "reference", alignment)]
    finding = find_replay(
        candidates,
        query_features,
        query_fp,
        replay_thresholds(thresholds),
        mirrored=lambda: mirrored_features(query_image, query_features.settings),
    )
    extras: dict[str, Any] = {"replay": finding.replay, "replay_check": "on", "replay_checked": finding.checked}
    if finding.evidence is not None:
        extras["replay_evidence"] = finding.evidence.to_json()
    if finding.replay:
        extras["replay_of"] = {"kind": "reference", "id": "reference", "label": "the reference photo"}
    extras["replay_ms"] = round((time.perf_counter() - start) * 1000.0, 2)
    return ReplayOutcome(finding, extras)


def verification_alignment(evidence: Any, ref_features: Features) -> Alignment | None:
    """The verification's homography as an :class:`~vision.replay.check.Alignment` (None without a plausible one).

    ``evidence`` is the verification's :class:`~vision.rules.evidence.MatchEvidence`.
    """
    H = getattr(evidence, "H", None)
    if H is None or getattr(evidence, "problems", None):
        return None
    return Alignment(np.asarray(H, np.float64), int(evidence.n_inliers), ref_features.image_size)
