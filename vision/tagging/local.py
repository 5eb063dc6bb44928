"""Offline tagger: EfficientNet-Lite0 (ImageNet-1k) on onnxruntime, tags via WordNet.

The model file, the 1000 class names and the class-to-ancestors table ship in
``vision/models/`` (made by ``scripts/export_tagger.py`` and
``scripts/build_wordnet_table.py``), so neither torch nor a download is
needed at run time.

A tag matches a photo when the summed probability of the classes it names
passes the threshold.  A class is named by a tag when the tag (normalised
with :func:`~vision.tagging.base.normalise_tag`) equals one of the class's
own WordNet lemmas, one of its hypernym ancestors' lemmas ("dog" covers the
118 dog breeds, "vehicle" the cars, boats and planes), or an entry of the
small :data:`EVERYDAY_SYNONYMS` map for everyday words WordNet files elsewhere.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:  # onnxruntime itself is imported on first use
    import onnxruntime as ort

from vision.core.errors import ImageInputError
from vision.tagging.base import Concept, TagMatch, normalise_tag
from vision.tagging.words import TAG_SYNONYMS

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
MODEL_PATH = MODELS_DIR / "efficientnet_lite0.onnx"
CLASSES_PATH = MODELS_DIR / "imagenet_classes.txt"
ANCESTORS_PATH = MODELS_DIR / "imagenet_ancestors.json"

INPUT_SIZE = 224
RESIZE_SHORT_SIDE = 256
EMBEDDING_DIM = 1280

EVERYDAY_SYNONYMS: dict[str, tuple[str, ...]] = {
    # WordNet files a mug as a "drinking vessel", not a "cup", and ImageNet's
    # "cup" class (n07930864) is WordNet's "cup = punch" (a drink) although its
    # photos are cups; a coffee photo is mostly "espresso" in a cup.
    "cup": ("n03063599", "n07920052"),  # coffee mug, espresso
    # No ImageNet class has "book" as a lemma or ancestor (book jacket is a
    # "wrapping", comic book a "magazine").
    "book": ("n07248320", "n06596364"),  # book jacket, comic book
    # A photographed "plant" is a potted plant, which ImageNet calls
    # "pot, flowerpot" (a container in WordNet).
    "plant": ("n03991062",),  # pot, flowerpot
}
"""Tag -> extra ImageNet class ids it also names, only where WordNet lacks the everyday word."""

DISPLAY_CONCEPTS: tuple[str, ...] = (
    "animal",
    "dog",
    "cat",
    "bird",
    "fish",
    "insect",
    "spider",
    "snake",
    "lizard",
    "turtle",
    "frog",
    "monkey",
    "bear",
    "vehicle",
    "car",
    "truck",
    "bus",
    "bicycle",
    "boat",
    "aircraft",
    "train",
    "furniture",
    "chair",
    "table",
    "food",
    "fruit",
    "vegetable",
    "bread",
    "beverage",
    "plant",
    "flower",
    "musical instrument",
    "computer",
    "phone",
    "clock",
    "ball",
    "bottle",
    "cup",
    "book",
    "building",
    "clothing",
    "shoe",
    "hat",
    "bag",
    "toy",
    "tool",
    "weapon",
)
"""Aggregated concepts :meth:`LocalTagger.concepts` shows next to the leaf classes."""

MIN_DISPLAY_SCORE = 0.05


@dataclass(frozen=True)
class Vocabulary:
    """The classes' names and, per class, every normalised word that names it.

    Attributes
    ----------
    wnids : tuple of str
        WordNet ids in model output order.
    names : tuple of tuple of str
        Each class's own lemmas, as written ("Chihuahua", ...).
    words : tuple of frozenset of str
        Each class's own lemmas, ancestor lemmas and synonym-map tags, normalised.
    """

    wnids: tuple[str, ...]
    names: tuple[tuple[str, ...], ...]
    words: tuple[frozenset[str], ...]

    def mask(self, tag: str) -> np.ndarray:
        """Boolean (1000,) mask of the classes a tag or its everyday synonym names (normalised inside)."""
        key = normalise_tag(tag)
        synonym = TAG_SYNONYMS.get(key)
        return _mask(self, key) | _mask(self, synonym) if synonym else _mask(self, key)

    def display_name(self, index: int) -> str:
        """A class's first lemma ("tabby" for "tabby, tabby cat")."""
        return self.names[index][0]


@functools.lru_cache(maxsize=4096)
def _mask(vocab: Vocabulary, key: str) -> np.ndarray:
    """Cached class mask for a normalised tag (read-only array)."""
    mask = np.fromiter((key in w for w in vocab.words), dtype=bool, count=len(vocab.words))
    mask.setflags(write=False)
    return mask


def load_class_names(path: Path = CLASSES_PATH) -> list[str]:
    """The 1000 class display names (first lemma) in model output order.

    Parameters
    ----------
    path : Path
        ``imagenet_classes.txt`` (``<wnid> <lemma>, <lemma> ...`` per line).

    Returns
    -------
    list of str
    """
    return [load_vocabulary(path).display_name(i) for i in range(1000)]


@functools.lru_cache(maxsize=2)
def load_vocabulary(classes_path: Path = CLASSES_PATH, ancestors_path: Path = ANCESTORS_PATH) -> Vocabulary:
    """Read the shipped class names and ancestor table (cached).

    Parameters
    ----------
    classes_path : Path
        ``imagenet_classes.txt``.
    ancestors_path : Path
        ``imagenet_ancestors.json`` (see ``scripts/build_wordnet_table.py``).

    Returns
    -------
    Vocabulary
    """
    wnids, names = [], []
    for line in classes_path.read_text(encoding="utf-8").splitlines():
        wnid, lemmas = line.split(" ", 1)
        wnids.append(wnid)
        names.append(tuple(lemmas.split(", ")))
    table = json.loads(ancestors_path.read_text(encoding="utf-8"))
    synsets, classes = table["synsets"], table["classes"]
    extra: dict[str, set[str]] = {}
    for tag, ids in EVERYDAY_SYNONYMS.items():
        for wnid in ids:
            extra.setdefault(wnid, set()).add(normalise_tag(tag))
    words: list[frozenset[str]] = []
    for wnid, own, anc in zip(wnids, names, classes, strict=True):
        own_and_ancestors = list(own) + [lemma for a in anc for lemma in synsets[str(a)]]
        words.append(frozenset(normalise_tag(x) for x in own_and_ancestors) | extra.get(wnid, set()))
    return Vocabulary(tuple(wnids), tuple(names), tuple(words))


LOAD_SECONDS: dict[Path, float] = {}
"""Seconds each model file took to load (filled by :func:`load_session`)."""


@functools.lru_cache(maxsize=2)
def load_session(model_path: Path = MODEL_PATH) -> ort.InferenceSession:
    """Load the ONNX model once per path, one intra-op and one inter-op thread.

    One thread per inference keeps latency predictable on a small, busy
    machine (with onnxruntime's default thread pool it can take seconds
    when the cores are shared).

    Parameters
    ----------
    model_path : Path
        The exported ``efficientnet_lite0.onnx``.

    Returns
    -------
    onnxruntime.InferenceSession
    """
    import onnxruntime as ort

    start = time.perf_counter()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(model_path), sess_options=opts, providers=["CPUExecutionProvider"])
    LOAD_SECONDS[Path(model_path)] = time.perf_counter() - start
    return session


def preprocess(image_bgr: np.ndarray) -> np.ndarray:
    """Turn a BGR photo into the model's input batch.

    Resize so the short side is 256 px, centre-crop 224 x 224, convert to
    RGB and scale TF-Lite style, ``(x - 127) / 128``.

    Parameters
    ----------
    image_bgr : np.ndarray
        H x W x 3 uint8 BGR (grey H x W and BGRA H x W x 4 are accepted too).

    Returns
    -------
    np.ndarray
        float32, 1 x 3 x 224 x 224.

    Raises
    ------
    ImageInputError
        When the array is not a uint8 image.
    """
    rgb = _to_rgb(image_bgr)
    h, w = rgb.shape[:2]
    scale = RESIZE_SHORT_SIDE / min(h, w)
    size = (max(INPUT_SIZE, round(w * scale)), max(INPUT_SIZE, round(h * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(rgb, size, interpolation=interp)
    top = (size[1] - INPUT_SIZE) // 2
    left = (size[0] - INPUT_SIZE) // 2
    crop = resized[top : top + INPUT_SIZE, left : left + INPUT_SIZE]
    x = (crop.astype(np.float32) - 127.0) / 128.0
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def _to_rgb(image: np.ndarray) -> np.ndarray:
    """Validate a uint8 BGR/BGRA/grey array and return it as RGB."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.size == 0:
        raise ImageInputError("expected a non-empty uint8 image array")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    raise ImageInputError(f"expected H x W x 3 BGR, got shape {image.shape}")


def softmax(logits: np.ndarray) -> np.ndarray:
    """Numerically stable softmax of a 1-D array (float64 out)."""
    z = logits.astype(np.float64) - float(np.max(logits))
    e = np.exp(z)
    return e / e.sum()


class LocalTagger:
    """EfficientNet-Lite0 tagger; the default, needing neither network nor account.

    Parameters
    ----------
    model_path : Path, optional
        ONNX file, default the shipped one.

    Notes
    -----
    The session is loaded lazily on first use and shared by every instance
    (:func:`load_session`).  The last analysis is cached, so ``concepts`` and
    ``match`` on the same photo run the network once.
    """

    name = "local"

    def __init__(self, model_path: Path = MODEL_PATH) -> None:
        self.model_path = Path(model_path)
        self.vocabulary = load_vocabulary()
        self._lock = threading.Lock()
        self._last: tuple[bytes, np.ndarray, np.ndarray] | None = None

    @property
    def load_seconds(self) -> float | None:
        """How long loading the model took (None until it is loaded)."""
        return LOAD_SECONDS.get(self.model_path)

    def _session(self):
        """The shared ONNX session (loaded on first use)."""
        return load_session(self.model_path)

    def analyse(self, image_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Class probabilities and the global image descriptor, from one run.

        Parameters
        ----------
        image_bgr : np.ndarray
            H x W x 3 uint8 BGR photo.

        Returns
        -------
        probs : np.ndarray
            float64 (1000,) softmax probabilities, model output order.
        embedding : np.ndarray
            float32 (1280,) pooled feature, L2-normalised (compare with a dot
            product for cosine similarity).
        """
        key = _fingerprint(image_bgr)
        with self._lock:
            if self._last is not None and self._last[0] == key:
                return self._last[1], self._last[2]
        logits, pooled = self._session().run(["logits", "embedding"], {"image": preprocess(image_bgr)})
        probs = softmax(logits[0])
        emb = pooled[0].astype(np.float32)
        emb /= max(float(np.linalg.norm(emb)), 1e-12)
        with self._lock:
            self._last = (key, probs, emb)
        return probs, emb

    def predict(self, image_bgr: np.ndarray) -> np.ndarray:
        """Softmax probabilities (1000,) over the ImageNet classes."""
        return self.analyse(image_bgr)[0]

    def embed(self, image_bgr: np.ndarray) -> np.ndarray:
        """L2-normalised float32 (1280,) global descriptor of the photo."""
        return self.analyse(image_bgr)[1]

    def classify(self, image_bgr: np.ndarray, top_k: int = 5) -> list[Concept]:
        """The ``top_k`` ImageNet classes (leaf concepts only), best first."""
        probs = self.predict(image_bgr)
        top = np.argsort(-probs)[:top_k]
        return [Concept(self.vocabulary.display_name(int(i)), float(probs[i])) for i in top]

    def synonyms(self, class_name: str) -> frozenset[str]:
        """Normalised own lemmas of every class whose display name is ``class_name``."""
        key = normalise_tag(class_name)
        return frozenset(
            normalise_tag(lemma) for names in self.vocabulary.names if normalise_tag(names[0]) == key for lemma in names
        )

    def concepts(self, image_bgr: np.ndarray, top_k: int = 10) -> list[Concept]:
        """Leaf classes and aggregated everyday concepts ("dog"), best first.

        Parameters
        ----------
        image_bgr : np.ndarray
            H x W x 3 uint8 BGR photo.
        top_k : int
            How many concepts to return.

        Returns
        -------
        list of Concept
            Up to ``top_k`` of: the top leaf classes and those
            :data:`DISPLAY_CONCEPTS` whose summed probability is at least 0.05
            (an aggregate replaces a leaf of the same name, e.g. "cup"),
            sorted by score.
        """
        return self.concepts_from_probs(self.predict(image_bgr), top_k)

    def concepts_from_probs(self, probs: np.ndarray, top_k: int = 10) -> list[Concept]:
        """:meth:`concepts` for already computed probabilities."""
        scores: dict[str, float] = {}
        for i in np.argsort(-probs)[:top_k]:
            name = self.vocabulary.display_name(int(i))
            scores[name] = max(scores.get(name, 0.0), float(probs[i]))
        for word in DISPLAY_CONCEPTS:  # an aggregate replaces a leaf of the same name
            score = min(float(probs[self.vocabulary.mask(word)].sum()), 1.0)
            if score >= MIN_DISPLAY_SCORE:
                scores[word] = max(scores.get(word, 0.0), score)
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])[:top_k]
        return [Concept(name, score) for name, score in ranked]

    def match(self, image_bgr: np.ndarray, tag: str, min_confidence: float) -> TagMatch:
        """Whether the classes a tag names reach ``min_confidence`` together.

        Parameters
        ----------
        image_bgr : np.ndarray
            H x W x 3 uint8 BGR photo.
        tag : str
            Word to look for ("dog", "Cups", "coffee mug").
        min_confidence : float
            Threshold on the summed probability.

        Returns
        -------
        TagMatch
            ``concept`` is the tag's normalised form (None when no class or
            ancestor is called that), ``score`` the summed probability.
        """
        return self.match_probs(self.predict(image_bgr), tag, min_confidence)

    def match_probs(self, probs: np.ndarray, tag: str, min_confidence: float) -> TagMatch:
        """:meth:`match` for already computed probabilities."""
        tag = tag.strip()
        mask = self.vocabulary.mask(tag)
        shown = self.concepts_from_probs(probs)
        if not mask.any():
            return TagMatch(tag, False, None, 0.0, shown)
        score = min(float(probs[mask].sum()), 1.0)
        return TagMatch(tag, score >= min_confidence, normalise_tag(tag), score, shown)


def _fingerprint(image: np.ndarray) -> bytes:
    """A short digest identifying an image array's shape and pixels."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr((getattr(image, "shape", None), str(getattr(image, "dtype", "")))).encode())
    if isinstance(image, np.ndarray):
        digest.update(np.ascontiguousarray(image).data)
    return digest.digest()
