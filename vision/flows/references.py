"""Store and load reference photos together with their features.

Glue between :mod:`vision.flows.prepare` and a :class:`vision.store.ReferenceStore`:
a reference is stored with its features so a verification only computes the
new photo's; features computed with other settings (or missing) are
recomputed from the stored image and written back.  Under the fused rule
the features also carry the photo's global descriptor (stored at
registration); a reference stored without one gets it computed from its
image and written back on its first fused verification.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from vision.flows.prepare import PreparedPhoto, reference_features
from vision.image.stored_photo import StoredPhoto, photo_to_store
from vision.matchers.akaze import Features, FeatureSettings, features_to_bytes
from vision.rules.base import Needs
from vision.store import ReferenceRecord, ReferenceStore, StoreError

log = logging.getLogger("vision.flows.references")


@dataclass(frozen=True)
class LoadedReference:
    """A stored reference ready to verify against."""

    record: ReferenceRecord
    image: bytes
    features: Features
    recomputed: bool


def save_reference(
    store: ReferenceStore,
    user_id: str,
    data: bytes,
    photo: PreparedPhoto,
    *,
    keep_original: bool = True,
    stored: StoredPhoto | None = None,
) -> ReferenceRecord:
    """Store the photo and its features as ``user_id``'s newest reference.

    ``keep_original`` (the default here, for the dashboard: a local tool that
    recognises its bundled examples by their bytes) stores ``data`` as sent;
    ``False`` stores the re-encoded working image (:mod:`vision.image.stored_photo`),
    what the API does unless ``VISION_STORE_ORIGINAL`` is set.  ``stored`` is
    what :func:`stored_photo` already made of it.  The features blob keeps
    ``photo.features.embedding`` when it was computed (``register_photo`` does
    so under the fused rule).
    """
    stored = stored if stored is not None else stored_photo(data, photo, keep_original=keep_original)
    return store.put(
        user_id,
        stored.data,
        features_to_bytes(photo.features),
        n_keypoints=photo.features.n_detected,
        width=stored.width,
        height=stored.height,
        content_type=stored.content_type,
    )


def stored_photo(data: bytes, photo: PreparedPhoto, *, keep_original: bool = False) -> StoredPhoto:
    """What :func:`save_reference` would store for ``photo`` (its size is what a storage quota charges)."""
    return photo_to_store(
        data, photo.image, photo.header.content_type, photo.header.upright_size, keep_original=keep_original
    )


def stored_features(
    store: ReferenceStore,
    key: str,
    settings: FeatureSettings,
    needs: Needs = Needs(),
    *,
    image: bytes | None = None,
) -> tuple[Features, bool]:
    """The one reference loader: a reference's usable features, and whether they were recomputed.

    The stored features when they parse, were made with ``settings`` and
    carry what the rule ``needs`` (a global descriptor, XFeat features); otherwise
    they are recomputed from the reference image (downloaded only then,
    unless ``image`` is given) and saved back.  A failed save-back is logged,
    not raised: the verification can go on with the recomputed features.
    Raises the store's errors, and :class:`vision.core.errors.ImageInputError`
    when the stored image no longer decodes.
    """
    features, recomputed = reference_features(
        store.load_features(key),
        (lambda: store.load_image(key)) if image is None else image,
        settings,
        needs,
    )
    if recomputed:
        log.info("features of %s recomputed (missing, stale or without descriptor)", key)
        try:
            store.save_features(key, features_to_bytes(features))
        except (StoreError, TypeError, ValueError) as exc:
            log.warning("could not save recomputed features of %s: %s", key, exc)
    return features, recomputed


def load_reference(
    store: ReferenceStore, key: str, settings: FeatureSettings, needs: Needs = Needs()
) -> LoadedReference:
    """A reference's record, image and usable features (:func:`stored_features`), for the dashboard."""
    record = store.get(key)
    image = store.load_image(key)  # the dashboard draws it anyway
    features, recomputed = stored_features(store, key, settings, needs, image=image)
    return LoadedReference(record, image, features, recomputed)
