"""The Tuning lab's disputes set: the disputed pairs of the reference store, and their review.

The set is :func:`vision.store.disputes.Disputes.materialise`'s folder (the local store's own
``.disputes`` folder, or a local copy of the S3 prefix); the review writes through
:func:`vision.service.habit_flows.review_dispute`.  Nothing here decides.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import streamlit as st

from ui.resources import reference_store
from vision.lab.data import LabelledSet, open_folder
from vision.service.habit_flows import review_dispute
from vision.store.base import StoreError
from vision.store.disputes import disputes_of


def _copy_folder(store: object) -> Path:
    """Where an S3 disputes set is copied on this machine (one folder per store, kept between reruns)."""
    name = hashlib.sha256(repr(store).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"habit-disputes-{name}"


def disputes_set() -> LabelledSet | None:
    """The disputes set, after its review widget (unreviewed rows: confirm or flip); None when it is empty."""
    store = reference_store()
    disputes = disputes_of(store)
    try:
        rows = disputes.rows()
        folder = disputes.materialise(_copy_folder(store))
    except (StoreError, ValueError) as exc:
        st.error(f"The disputes cannot be read: {exc}")
        return None
    if not rows:
        st.info("No disputed pair yet (a dispute writes one when VISION_KEEP_PROOF_PHOTOS is on).")
        return None
    waiting = [r for r in rows if not r.reviewed]
    st.caption(f"{len(rows)} disputed pairs, {len(waiting)} awaiting review. Folder: {folder}")
    if waiting:
        st.dataframe(
            [{"id": r.id, "habit": r.owner, "claim": r.claim, "label": r.label} for r in waiting], hide_index=True
        )
        chosen = st.selectbox("Review the dispute", [r.id for r in waiting], key="dispute_pick")
        row = next(r for r in waiting if r.id == chosen)
        left, right = st.columns(2)
        left.image(str(folder / row.ref), caption="reference", width=280)
        right.image(str(folder / row.query), caption=f"proof (the user says '{row.claim}')", width=280)
        confirm, flip = st.columns(2)
        verb = None
        if confirm.button(f"Confirm label {row.label}", key="dispute_confirm"):
            verb = False
        if flip.button(f"Flip to label {1 - row.label}", key="dispute_flip"):
            verb = True
        if verb is not None:
            try:
                review_dispute(store, row.id, flip=verb)
            except (StoreError, KeyError, ValueError) as exc:
                st.error(f"The review is not written: {exc}")
            else:
                st.rerun()
    return open_folder(folder, name="disputes")
