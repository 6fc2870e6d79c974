"""geo.load_zip_places: ZIP places saved in a file answer `zip_place` exactly as the package's table
does, so a rebuild after the first skips loading the table; a file saved for another package or code
(another key) is never read, and a damaged one is written again."""
from __future__ import annotations

import json

import pytest

from referralnet import geo

CODES = ["94105", "94063", "10001", "99501", "00000"]  # 00000: not a ZIP code (saved as unknown)


@pytest.fixture(autouse=True)
def _fresh_process():
    """As in a new process: nothing saved, nothing looked up."""
    geo._saved_places.clear()
    geo.zip_place.cache_clear()
    yield
    geo._saved_places.clear()
    geo.zip_place.cache_clear()


def _from_the_table(codes):
    return {code: geo._zip_place_from_table(code) for code in codes}


def _no_table(monkeypatch):
    def fail(code):
        raise AssertionError(f"the ZIP table was asked for {code}")

    monkeypatch.setattr(geo, "_zip_place_from_table", fail)


def test_saved_places_answer_as_the_table_does_without_loading_it(tmp_path, monkeypatch):
    expected = _from_the_table(CODES)
    assert expected["94105"].timezone == "America/Los_Angeles" and expected["00000"] is None
    geo.load_zip_places(CODES + ["9410", None, "94105-1234"], tmp_path)
    (saved,) = tmp_path.iterdir()
    assert saved.name == f"zip-places-{geo._zip_table_key()}.json"
    assert sorted(json.loads(saved.read_text())) == sorted(CODES)

    geo._saved_places.clear()  # a later process
    _no_table(monkeypatch)
    geo.load_zip_places(CODES, tmp_path)
    assert {code: geo.zip_place(code) for code in CODES} == expected
    assert geo.timezone_for_zip("99501") == "America/Anchorage"
    assert geo.zip_place("94105-1234") == expected["94105"]


def test_a_code_not_saved_yet_is_looked_up_and_saved_with_the_others(tmp_path, monkeypatch):
    geo.load_zip_places(CODES[:2], tmp_path)
    geo._saved_places.clear()
    geo.load_zip_places(CODES, tmp_path)  # three more: from the table
    (saved,) = tmp_path.iterdir()
    assert sorted(json.loads(saved.read_text())) == sorted(CODES)
    geo._saved_places.clear()
    _no_table(monkeypatch)
    geo.load_zip_places(CODES, tmp_path)
    assert geo.zip_place("10001").label.startswith("10001 (New York")


def test_a_file_saved_for_another_package_or_code_is_not_read(tmp_path, monkeypatch):
    """The file's name carries the digest of the package's files and this module's code: a changed table
    or code looks for another file, and computes every place again."""
    key = geo._zip_table_key()
    (tmp_path / f"zip-places-{key}.json").write_text(json.dumps({"94105": [0.0, 0.0, "stale", "Europe/Paris"]}))
    monkeypatch.setattr(geo, "_zip_table_key", lambda: key[::-1])
    geo.load_zip_places(["94105"], tmp_path)
    assert geo.zip_place("94105") == _from_the_table(["94105"])["94105"]
    assert (tmp_path / f"zip-places-{key[::-1]}.json").exists()


def test_the_key_follows_the_package_files_and_this_module(tmp_path, monkeypatch):
    package = tmp_path / "zipcodes"
    package.mkdir()
    (package / "__init__.py").write_text("# table v1")
    monkeypatch.setattr(geo.zipcodes, "__file__", str(package / "__init__.py"))
    first = geo._zip_table_key()
    (package / "_zipcodes.abi3.so").write_bytes(b"another table")
    assert geo._zip_table_key() != first


def test_a_damaged_file_is_ignored_and_written_again(tmp_path):
    path = tmp_path / f"zip-places-{geo._zip_table_key()}.json"
    path.write_text('{"94105": [37.7')  # cut short
    geo.load_zip_places(["94105"], tmp_path)
    assert geo.zip_place("94105") == _from_the_table(["94105"])["94105"]
    assert json.loads(path.read_text())["94105"][3] == "America/Los_Angeles"
    path.write_text('{"94105": "not a place", "94063": [1, 2]}')  # well-formed, not rows of places
    geo._saved_places.clear()
    geo.load_zip_places(["94105", "94063"], tmp_path)
    assert geo.zip_place("94063") == _from_the_table(["94063"])["94063"]


def test_a_folder_that_cannot_be_written_still_answers(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    geo.load_zip_places(["94105"], blocker / "cache")  # mkdir fails: nothing saved, the answer stands
    assert geo.zip_place("94105") == _from_the_table(["94105"])["94105"]
