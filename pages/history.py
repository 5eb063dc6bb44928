"""History page: a habit's references and its timeline of verdicts (reasons, rule numbers, disputes).

Widgets in (user id, habit), :mod:`vision.store.history` and the store's listing out; nothing here
decides.  The same data as ``GET /auth/history``.
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from ui.resources import reference_store
from vision.service.habits import HabitError, check_habit, habit_owner
from vision.store.base import StoreError
from vision.store.history import history_log
from vision.store.ids import validate_user_id

st.title("History")
st.caption("Every habit verification, newest first: the verdict, why, and any dispute awaiting review.")
user = st.text_input("User id", key="history_user").strip()
habit_text = st.text_input("Habit", value="default", key="history_habit").strip()
if user:
    try:
        validate_user_id(user)
        owner = habit_owner(user, check_habit(habit_text or None))
    except (ValueError, HabitError) as exc:
        st.error(f"Cannot show this history: {exc}")
        st.stop()
    store = reference_store()
    try:
        records = store.list(owner)
        log = history_log(store)
        entries, _ = log.page(owner, 50)
    except StoreError as exc:
        st.error(f"The store cannot be read: {exc}")
        st.stop()
    st.subheader(f"References ({len(records)})")
    if records:
        st.dataframe(
            [{"key": r.key, "registered": r.created_at.isoformat(timespec="seconds")} for r in records],
            hide_index=True,
        )
    else:
        st.info("This habit has no reference photo yet (register one on the Register page or the API).")
    st.subheader(f"Verdicts ({len(entries)}{'+' if len(entries) == 50 else ''})")
    if not entries:
        st.info("No verification of this habit yet.")
    for entry in entries:
        data = entry.data
        dispute = data.get("dispute")
        mark = "✅" if data.get("result") else "❌"
        line = f"{mark} {entry.created_at:%Y-%m-%d %H:%M:%S} UTC · {data.get('message')} · {data.get('reason')}"
        with st.expander(line):
            st.caption(f"id {entry.entry_id} · rule {data.get('rule')} · profile {data.get('profile')}")
            st.caption(f"reference {data.get('reference')} · replay {data.get('replay')}")
            st.json(data.get("numbers", {}), expanded=False)
            if dispute:
                state = "reviewed" if dispute.get("reviewed") else "awaiting review"
                st.warning(f"Disputed: the user says '{dispute.get('claim')}' ({state})")
                if not dispute.get("reviewed") and st.button("Confirm the claim", key=f"review_{entry.entry_id}"):
                    reviewed = {**data, "dispute": {**dispute, "reviewed": True}}
                    log.put(owner, replace(entry, data=reviewed))
                    st.rerun()
