"""Fixtures of the lead-import tests in this folder: a working Wednesday, a
private data folder for progress files, English messages, and the source the
files are imported into."""

import datetime as dt

import pytest
import time_machine
from django.utils import translation

from tests.factories import SourceFactory

# A Wednesday, 11:00 in Moscow: the default calendar is open, reps are on.
NOW = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def working_hours():
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture(autouse=True)
def private_data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"


@pytest.fixture(autouse=True)
def english_messages():
    # The messages are asserted in English; the Russian ones are checked by test_i18n.
    with translation.override("en"):
        yield


@pytest.fixture
def source(db):
    return SourceFactory(code="exhibition", name="Выставка")
