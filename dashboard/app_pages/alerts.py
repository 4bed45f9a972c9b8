"""Inspector and management: the live alerts, refreshing by themselves."""

import streamlit as st

from dashboard import alerts_ui, auth, labels

actor = auth.actor()
st.title(labels.ALERTS["title"])
alerts_ui.alert_badge(actor)
alerts_ui.alert_list(actor)
