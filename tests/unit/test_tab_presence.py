"""A page's watcher ends once its tab has been gone for the grace period, not before."""

from __future__ import annotations

import pytest

from state import base


@pytest.fixture
def connected(monkeypatch):
    now = {"t": 1000.0, "connected": True}
    monkeypatch.setattr(base, "tab_connected", lambda _state: now["connected"])
    monkeypatch.setattr(base.time, "monotonic", lambda: now["t"])
    return now


def test_a_closed_tab_is_gone_after_the_grace_period(connected):
    presence = base.TabPresence(grace=60)
    assert not presence.gone(object())
    connected["connected"] = False
    assert not presence.gone(object())  # just left: maybe a network blip
    connected["t"] += 59
    assert not presence.gone(object())
    connected["t"] += 1
    assert presence.gone(object())


def test_coming_back_restarts_the_clock(connected):
    presence = base.TabPresence(grace=60)
    connected["connected"] = False
    presence.gone(object())
    connected["t"] += 50
    connected["connected"] = True
    assert not presence.gone(object())
    connected["connected"] = False
    connected["t"] += 50
    assert not presence.gone(object())  # away 0 s since it came back, not 100 s


def test_without_a_running_app_the_tab_counts_as_there():
    assert base.tab_connected(object())
