"""Shared fixtures: the Output API double with the probe_three workflow of the recordings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakeapi import FakeOutputApi, Step

PROBE_THREE = [Step("extractTopics"), Step("draftOutline"), Step("polishDraft")]


@pytest.fixture
def fake() -> Iterator[FakeOutputApi]:
    """A running API double where `probe_three` is defined (no run started yet)."""
    with FakeOutputApi(long_poll_cap_ms=500) as api:
        api.define_workflow("probe_three", list(PROBE_THREE))
        yield api
