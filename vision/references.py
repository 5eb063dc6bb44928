"""Store and load reference photos together with their features.

Glue between :mod:`vision.pipeline` and a :class:`vision.store.ReferenceStore`:
a reference is stored with its features so a verification only computes the
new photo's; features computed with other settings (or missing) are
recomputed from the stored image and written back.  Under the fused rule
the features also carry the photo's global descriptor (stored at
registration); a reference stored without one gets it computed from its
image and written back on its first fused verification.
"""

from __future__ import annotations

from dataclasses import dataclass

from vision.features import Features, FeatureSettings, features_to_bytes
from vision.pipeline import PreparedPhoto, reference_features
from vision.store import ReferenceRecord, ReferenceStore


@dataclass(frozen=True)
class LoadedReference:
    """A stored reference ready to verify against."""

    record: ReferenceRecord
    image: bytes
    features: Features
    recomputed: bool


def save_reference(store: ReferenceStore, user_id: str, data: bytes, photo: PreparedPhoto) -> ReferenceRecord:
    """Store the photo's original bytes and its features as ``user_id``'s newest reference.

    The features blob keeps ``photo.features.embedding`` when it was computed
    (``register_photo`` does so under the fused rule).
    """
    width, height = photo.header.upright_size
    return store.put(
        user_id,
        data,
        features_to_bytes(photo.features),
        n_keypoints=photo.features.n_detected,
        width=width,
        height=height,
        content_type=photo.header.content_type,
    )


def load_reference(
    store: ReferenceStore, key: str, settings: FeatureSettings, *, embed: bool = False
) -> LoadedReference:
    """Load a reference's image and usable features (recomputed and saved back if stale).

    With ``embed`` (the fused rule) features without the global descriptor
    count as stale: it is computed from the image and saved back.
    Raises the store's errors, and :class:`vision.errors.ImageInputError`
    when the stored image no longer decodes.
    """
    record = store.get(key)
    image = store.load_image(key)  # the dashboard draws it anyway
    features, recomputed = reference_features(store.load_features(key), image, settings, embed=embed)
    if recomputed:
        store.save_features(key, features_to_bytes(features))
    return LoadedReference(record, image, features, recomputed)
