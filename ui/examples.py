"""The curated example photos of the Demo, Register and Verify pages (bundled in ``samples/``).

Each scenario is a reference and four new photos that tell the story: the
same thing from another angle, at night, a different thing of the same
kind, and something else.  Only Apache-2.0 / BSD / CC0 photos are bundled
(``samples/NOTICE.md``); the darkened "simulated night" copies are derived and say so on screen.
The Demo adds one more new photo, "Sent again": the reference itself re-saved
as a phone screenshot at run time (:func:`demo_queries`), for the replay check.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from vision.replay.transforms import resend

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "samples"


@dataclass(frozen=True)
class Example:
    """One bundled photo: ``path`` under ``samples/``, a short ``title`` and a one-line ``note``.

    ``resent`` names a :data:`vision.replay.transforms.TRANSFORMS` entry: the
    photo is then that bundled photo sent again that way (made at run time).
    ``derived`` marks a photo made from another (a darkened copy), said on
    screen, not only in a tooltip; ``if_rejected`` is what the user can do
    when the rule rejects this (real, hard) photo.
    """

    path: str
    title: str
    note: str = ""
    resent: str = ""
    derived: bool = False
    if_rejected: str = ""

    @property
    def on_screen(self) -> str:
        """What the photo is, said on screen under the picker (a derived copy says so)."""
        note = self.note or self.title
        return f"{self.title}: {note}"

    @property
    def key(self) -> str:
        """What identifies this choice in a picker (the path, plus how it was resent)."""
        return f"{self.path}#{self.resent}" if self.resent else self.path

    def read(self) -> bytes:
        return _resent(self.path, self.resent) if self.resent else (SAMPLES_DIR / self.path).read_bytes()


@lru_cache(maxsize=8)
def _resent(path: str, how: str) -> bytes:
    """A bundled photo sent again by ``how``; made once per process (a fixed seed: the same bytes every time)."""
    return resend((SAMPLES_DIR / path).read_bytes(), how, seed=0)


@dataclass(frozen=True)
class Scenario:
    """A reference, what it shows (``noun``, the habit's ``tag``) and the new photos to try."""

    key: str
    reference: Example
    noun: str
    tag: str
    queries: tuple[Example, ...]

    @property
    def default_query(self) -> Example:
        """The first new photo: the same thing from another angle (a first impression that works)."""
        return self.queries[0]


DARKENED = "a darkened copy of the other angle, made from it, not a real photo at night"
"""The note of the derived night / dusk photos (``scripts/make_demo_samples.py``), shown on screen."""

COFFEE = Example("tag/coffee.jpg", "Something else", "a cup of coffee (scikit-image, CC0)")
CAT = Example("tag/chelsea.jpg", "Something else", "a cat (scikit-image, CC0)")

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "facade",
        Example("images/lightglue/DSC_0410.JPG", "Building", "a university facade (LightGlue, Apache-2.0)"),
        "building",
        "building",
        (
            Example("images/lightglue/DSC_0411.JPG", "Another angle", "the same facade, a step to the side"),
            Example("demo/DSC_0411_dark.jpg", "Simulated night", DARKENED, derived=True),
            Example("images/sacre_coeur/17295357_9106075285.jpg", "Another building", "the Sacré-Cœur"),
            COFFEE,
        ),
    ),
    Scenario(
        "landmark",
        Example("images/sacre_coeur/17295357_9106075285.jpg", "Landmark", "the Sacré-Cœur (IMC 2021, Flickr CC)"),
        "landmark",
        "building",
        (
            Example("images/sacre_coeur/93341989_396310999.jpg", "Another angle", "another visitor's photo"),
            Example(
                "images/lightglue/sacre_coeur2.jpg",
                "Real night photo",
                "a real photo at night, from the side: a hard case",
                if_rejected="A daytime reference rarely matches a real night photo. To prove this habit at night, "
                "register a night photo as a second reference.",
            ),
            Example("images/lightglue/DSC_0410.JPG", "Another building", "a university facade"),
            COFFEE,
        ),
    ),
    Scenario(
        "rooftops",
        Example("images/vlfeat/roofs1.jpg", "Rooftops", "rooftops from a window (vlfeat, BSD-2)"),
        "rooftops",
        "roof",
        (
            Example("images/vlfeat/roofs2.jpg", "Another angle", "the same roofs, the camera turned"),
            Example("demo/roofs2_dark.jpg", "Simulated dusk", DARKENED, derived=True),
            Example("images/lines/terrace0.JPG", "Another building", "a terrace"),
            CAT,
        ),
    ),
    Scenario(
        "terrace",
        Example("images/lines/terrace0.JPG", "Terrace", "a terrace (image-matching-webui, Apache-2.0)"),
        "terrace",
        "patio",
        (
            Example("images/lines/terrace1.JPG", "Another angle", "the same terrace, a step back"),
            Example("demo/terrace1_dark.jpg", "Simulated night", DARKENED, derived=True),
            Example("images/vlfeat/roofs1.jpg", "Another building", "rooftops"),
            COFFEE,
        ),
    ),
)

REFERENCES: tuple[Example, ...] = tuple(s.reference for s in SCENARIOS)


def scenario_of(reference_path: str) -> Scenario | None:
    """The scenario whose reference is ``reference_path`` (None for any other photo)."""
    return next((s for s in SCENARIOS if s.reference.path == reference_path), None)


@lru_cache(maxsize=1)
def _digests() -> dict[str, str]:
    return {hashlib.sha256(s.reference.read()).hexdigest(): s.key for s in SCENARIOS}


def scenario_of_bytes(data: bytes) -> Scenario | None:
    """The scenario whose reference photo is exactly ``data`` (a stored copy of an example)."""
    key = _digests().get(hashlib.sha256(data).hexdigest())
    return next((s for s in SCENARIOS if s.key == key), None)


def any_new_photos() -> tuple[Example, ...]:
    """New photos to try against a reference that is not an example: each scenario's reference, a cup, a cat."""
    return (*REFERENCES, Example(COFFEE.path, "Coffee cup", COFFEE.note), Example(CAT.path, "Cat", CAT.note))


SENT_AGAIN = "screenshot_phone"
"""How the Demo's "Sent again" photo resubmits the reference: a phone screenshot of it."""


def demo_queries(scenario: Scenario) -> tuple[Example, ...]:
    """The Demo's new photos: the scenario's four, then its reference sent again as a screenshot."""
    again = Example(
        scenario.reference.path,
        "Sent again",
        "the reference itself, as a phone screenshot (made here from the reference): not a new photo",
        resent=SENT_AGAIN,
    )
    return (*scenario.queries, again)
