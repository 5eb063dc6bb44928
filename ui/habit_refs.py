"""The Register page's habit widgets: whose habit, and its references with a confirmed Remove.

Widgets and what they collect only; the page calls :mod:`vision.service.habits` with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import streamlit as st

from ui.resources import app_settings, thumbnail_of
from vision.service.habits import DEFAULT_HABIT, SEPARATOR, HabitError, check_habit, habit_owner
from vision.store import ReferenceRecord, StoreError
from vision.store.ids import validate_client_user_id
from vision.web.settings import ApiSettings

__all__ = ["HabitChoice", "choose_habit", "confirmed_removal", "habit_capacity", "known_habits", "reference_list"]

PENDING = "register_remove_pending"
"""Session key of the reference whose Remove awaits confirmation."""
CONFIRMED = "register_remove_confirmed"
"""Session key of the reference whose removal was just confirmed (read once by :func:`confirmed_removal`)."""


@dataclass(frozen=True)
class HabitChoice:
    """The user id and habit typed on the page; ``error`` says why they cannot own references ('' when they can)."""

    user: str
    habit: str
    error: str = ""

    @property
    def ready(self) -> bool:
        """A user id is typed and it, with the habit, names a store owner."""
        return bool(self.user) and not self.error

    @property
    def owner(self) -> str:
        """The store id of the habit (:func:`vision.service.habits.habit_owner`); only when :attr:`ready`."""
        return habit_owner(self.user, self.habit)

    def describe(self) -> str:
        """``'alice'`` for the default habit, ``'alice' · habit 'desk'`` otherwise (for labels)."""
        return f"'{self.user}'" if self.habit == DEFAULT_HABIT else f"'{self.user}' · habit '{self.habit}'"


def choose_habit(prefix: str = "register") -> HabitChoice:
    """Text inputs for the user id and the habit (default ``"default"``), checked as the API checks them."""
    user = st.text_input(
        "User id", value="demo", max_chars=64, key=f"{prefix}_user", help="Letters, digits and _ . @ - (up to 64)."
    ).strip()
    habit = st.text_input(
        "Habit",
        value=DEFAULT_HABIT,
        max_chars=32,
        key=f"{prefix}_habit",
        help="A short name (a-z 0-9 _ -): desk, plant, gym. Each habit keeps its own references.",
    ).strip()
    habit = habit or DEFAULT_HABIT
    error = ""
    if user:
        try:
            habit_owner(validate_client_user_id(user), check_habit(habit))
        except (StoreError, HabitError) as exc:  # the message names the rule that failed
            error = str(exc)
    return HabitChoice(user, habit, error)


def known_habits(users: Sequence[str], user: str) -> list[str]:
    """The habits ``user`` has references in, from the store's owner ids (a hashed long one is not named)."""
    prefix = f"{user}{SEPARATOR}"
    named = sorted(u[len(prefix) :] for u in users if u.startswith(prefix))
    return ([DEFAULT_HABIT] if user in users else []) + named


def habit_capacity() -> int:
    """References a habit keeps (``VISION_MAX_REFERENCES_PER_HABIT``), parsed where the API parses it."""
    return ApiSettings.from_settings(app_settings()).max_references_per_habit


def _ask(key: str) -> None:
    st.session_state[PENDING] = key


def _cancel() -> None:
    st.session_state.pop(PENDING, None)


def _confirm(key: str) -> None:
    st.session_state.pop(PENDING, None)
    st.session_state[CONFIRMED] = key


def confirmed_removal() -> str | None:
    """The key whose Remove was confirmed by the click that caused this run (once; None otherwise).

    Read before the references are listed, so the page removes it and then lists what remains.
    """
    key = st.session_state.pop(CONFIRMED, None)
    return key if isinstance(key, str) else None


def reference_list(records: Sequence[ReferenceRecord]) -> None:
    """Each reference: thumbnail, date, size and key, and a Remove button that asks to confirm first."""
    pending = st.session_state.get(PENDING)
    for record in records:
        thumb, info, action = st.columns([1, 3, 1], vertical_alignment="center")
        image = thumbnail_of(record.key)
        if image is not None:
            thumb.image(image)
        info.write(
            f"{record.created_at:%Y-%m-%d %H:%M} UTC · {record.n_keypoints} keypoints · {record.width}x{record.height}"
        )
        info.caption(f"key {record.key}")
        if pending != record.key:
            action.button("Remove", key=f"remove_{record.key}", on_click=_ask, args=(record.key,))
            continue
        last = " It is the habit's only reference: verifying it will say there is none." if len(records) == 1 else ""
        info.warning(f"Remove this reference? Its photo and features are deleted for good.{last}")
        action.button("Yes, remove", key="remove_confirm", type="primary", on_click=_confirm, args=(record.key,))
        action.button("Cancel", key="remove_cancel", on_click=_cancel)
