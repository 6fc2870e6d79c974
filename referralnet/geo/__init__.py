"""Where things are: ZIP codes and addresses to coordinates (offline), distances, geohash cells.

Geocoding works offline from the US ZIP centroids shipped in the `zipcodes`
package; an address is placed at its ZIP (or its city's) centroid, which is
what a coordinator needs to find agencies nearby. When `GEOCODER=nominatim` is
configured, geopy's Nominatim geocoder is tried first for street addresses.
Distances come from geopy (great-circle, in miles).
"""
from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from statistics import mean
from typing import Iterable

import pygeohash
import zipcodes
from geopy import units
from geopy.distance import EARTH_RADIUS, great_circle

ZIP_RE = re.compile(r"\b(\d{5})(?:-\d{4})?\b")
COORDS_RE = re.compile(r"^\s*(-?\d{1,2}(?:\.\d+)?)\s*,\s*(-?\d{1,3}(?:\.\d+)?)\s*$")
STATE_RE = re.compile(r",\s*([A-Za-z]{2})\s*(?:\d{5}(?:-\d{4})?)?\s*$")
MILES_PER_DEGREE_LAT = 69.0


@dataclass(frozen=True)
class Place:
    latitude: float
    longitude: float
    label: str
    timezone: str | None = None


class PlaceNotFound(ValueError):
    """The text could not be turned into coordinates."""


@lru_cache(maxsize=4096)
def zip_place(zip_code: str) -> Place | None:
    """The centroid of a US ZIP code, or None when it is unknown."""
    zip_code = (zip_code or "").strip()[:5]
    if not re.fullmatch(r"\d{5}", zip_code):
        return None
    if zip_code in _saved_places:
        return _saved_places[zip_code]
    return _zip_place_from_table(zip_code)


def _zip_place_from_table(zip_code: str) -> Place | None:
    try:
        matches = zipcodes.matching(zip_code)
    except (ValueError, TypeError):
        return None
    for match in matches:
        if match.get("lat") and match.get("long"):
            return Place(float(match["lat"]), float(match["long"]), f"{zip_code} ({match['city']}, {match['state']})",
                         match.get("timezone") or None)
    return None


@lru_cache(maxsize=1)
def _cities() -> dict[tuple[str, str], list[dict]]:
    """(lower-case city, state) -> its ZIP records; built once from the package's table."""
    table: dict[tuple[str, str], list[dict]] = {}
    for record in zipcodes.list_all():
        if record.get("lat") and record.get("long") and record.get("active", True):
            table.setdefault((record["city"].lower(), record["state"]), []).append(record)
    return table


@lru_cache(maxsize=1024)
def city_place(city: str, state: str | None) -> Place | None:
    """The mean of a city's ZIP centroids (offline). Without a state, only an unambiguous city matches."""
    name = " ".join(city.lower().split())
    if state:
        matches = _cities().get((name, state.upper()), [])
    else:
        groups = [v for (c, _), v in _cities().items() if c == name]
        matches = groups[0] if len(groups) == 1 else []
    if not matches:
        return None
    return Place(mean(float(m["lat"]) for m in matches), mean(float(m["long"]) for m in matches),
                 f"{matches[0]['city']}, {matches[0]['state']}", matches[0].get("timezone") or None)


# ZIP places read from a saved file (load_zip_places) instead of the package's table: the first look-up
# in the table loads all of it (~0.9 CPU s), the file holds only the places a caller asked for before.
_saved_places: dict[str, Place | None] = {}


def _zip_table_key() -> str:
    """A digest of what a ZIP's place is computed from: the zipcodes package's files (its table is
    compiled into its extension) and this module's code. A saved place is used only under the same
    key, so it is never one that the current package and code would compute differently."""
    import hashlib

    h = hashlib.sha256()
    package = Path(zipcodes.__file__).parent
    for path in [*sorted(p for p in package.iterdir() if p.is_file()), Path(__file__)]:
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:20]


def load_zip_places(codes: Iterable[str], folder: Path) -> None:
    """Make `zip_place` answer these ZIP codes without loading the package's table when `folder` holds
    their places from an earlier call (the same package and code: `_zip_table_key`). Codes not saved
    yet are looked up in the table, then saved with the others (a full rebuild of the search index
    needs every ZIP of the directory; the next one on this host then skips the table's load)."""
    import json
    import os

    codes = {c for c in ((code or "").strip()[:5] for code in codes) if re.fullmatch(r"\d{5}", c)}
    path = folder / f"zip-places-{_zip_table_key()}.json"
    saved: dict[str, list | None] = {}
    try:
        loaded = json.loads(path.read_text())
        if isinstance(loaded, dict):
            saved = loaded
    except (OSError, ValueError):
        pass  # none yet, or unreadable: written again below
    for code, row in saved.items():
        if code not in _saved_places and (row is None or (isinstance(row, list) and len(row) == 4)):
            _saved_places[code] = None if row is None else Place(*row)
    missing = codes - _saved_places.keys()
    if not missing:
        return
    for code in missing:
        _saved_places[code] = _zip_place_from_table(code)
    rows = {code: None if place is None else [place.latitude, place.longitude, place.label, place.timezone]
            for code, place in _saved_places.items()}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        partial.write_text(json.dumps(rows, sort_keys=True))
        os.replace(partial, path)  # readers see the old file or the new one, never a part
    except OSError:
        pass  # not saved: the next call looks them up in the table again


def timezone_for_zip(zip_code: str | None) -> str | None:
    place = zip_place(zip_code or "")
    return place.timezone if place else None


def locate(text: str, *, geocoder: str | None = None) -> Place:
    """Turn '94063', '37.48,-122.23', '2600 Middlefield Rd, Redwood City, CA 94063' or 'Redwood City, CA'
    into a Place. Raises PlaceNotFound with a message for the person who typed it."""
    text = (text or "").strip()
    if not text:
        raise PlaceNotFound("Enter a ZIP code, an address or coordinates.")
    if match := COORDS_RE.match(text):
        lat, lon = float(match.group(1)), float(match.group(2))
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise PlaceNotFound(f"{text} are not valid coordinates (latitude -90..90, longitude -180..180).")
        return Place(lat, lon, f"{lat:.4f}, {lon:.4f}")
    if geocoder == "nominatim" and not re.fullmatch(r"\d{5}", text):
        place = _nominatim(text)
        if place:
            return place
    zips = ZIP_RE.findall(text)
    if zips:
        place = zip_place(zips[-1])
        if place is None:
            raise PlaceNotFound(f"{zips[-1]} is not a known US ZIP code.")
        return place
    parts = [p.strip() for p in text.split(",") if p.strip()]
    state = STATE_RE.search(text).group(1) if STATE_RE.search(text) and len(parts) >= 2 else None
    city_candidates = parts[-2:-1] if state else parts[-1:]
    for city in city_candidates:
        place = city_place(city, state)
        if place:
            return place
    raise PlaceNotFound(f"Could not find “{text}”. Try a 5-digit ZIP code or “City, ST”.")


def _nominatim(text: str) -> Place | None:  # pragma: no cover - needs the network; off by default
    from geopy.exc import GeopyError
    from geopy.geocoders import Nominatim

    try:
        found = Nominatim(user_agent="referralnet").geocode(text, country_codes="us", timeout=5)
    except GeopyError:
        return None
    return Place(found.latitude, found.longitude, found.address) if found else None


def distance_miles(a: tuple[float, float], b: tuple[float, float]) -> float:
    return great_circle(a, b).miles


class Points:
    """Places to ask "is any of them within N miles of here?" many times (great circle). Kept in order of
    latitude, so that a question looks only at the band of latitudes that can be that near; in the band, a
    box of longitudes (to the band's edge farther from the equator, widened a little) turns most away with
    one comparison, and the exact distance decides for the rest."""

    def __init__(self, points: Iterable[tuple[float, float]]):
        self._points = sorted(points)
        self._latitudes = [lat for lat, _ in self._points]

    def any_within(self, here: tuple[float, float], miles: float) -> bool:
        dlat = miles / MILES_PER_DEGREE_LAT * 1.01
        dlon = min(180.0, dlat / max(1e-6, math.cos(math.radians(min(89.9, abs(here[0]) + dlat)))))
        band = self._points[bisect_left(self._latitudes, here[0] - dlat):bisect_right(self._latitudes, here[0] + dlat)]
        for point in band:
            apart = abs(point[1] - here[1])
            if (apart <= dlon or apart >= 360.0 - dlon) and _great_circle_miles(here, point) <= miles:
                return True
        return False


def _great_circle_miles(a: tuple[float, float], b: tuple[float, float]) -> float:
    """geopy's great_circle distance in miles (the same formula and radius), without its object per call:
    ~1 microsecond instead of ~12 (Points asks it hundreds of times a report)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    sin1, cos1, sin2, cos2 = math.sin(lat1), math.cos(lat1), math.sin(lat2), math.cos(lat2)
    dlon = lon2 - lon1
    sin_dlon, cos_dlon = math.sin(dlon), math.cos(dlon)
    angle = math.atan2(math.hypot(cos2 * sin_dlon, cos1 * sin2 - sin1 * cos2 * cos_dlon),
                       sin1 * sin2 + cos1 * cos2 * cos_dlon)
    return units.miles(kilometers=angle * EARTH_RADIUS)


def geohash(lat: float, lon: float, precision: int = 6) -> str:
    return pygeohash.encode(lat, lon, precision=precision)


# Geohash cell sizes (height x width in miles at the equator; width shrinks with latitude).
CELL_PRECISIONS = (3, 4, 5, 6)


def cells_for_point(lat: float, lon: float) -> list[str]:
    """The cells a point is indexed under, one per precision in CELL_PRECISIONS."""
    full = geohash(lat, lon, max(CELL_PRECISIONS))
    return [full[:p] for p in CELL_PRECISIONS]


@lru_cache(maxsize=8192)
def cells_covering(lat: float, lon: float, radius_miles: float, max_cells: int = 64) -> list[str]:
    """Geohash cells that together cover the circle's bounding box, as few and as fine as possible.

    (Cached; callers must not modify the list.)"""
    dlat = radius_miles / MILES_PER_DEGREE_LAT
    dlon = radius_miles / max(1e-6, MILES_PER_DEGREE_LAT * math.cos(math.radians(lat)))
    box = pygeohash.BoundingBox(max(-90.0, lat - dlat), max(-180.0, lon - dlon),
                                min(90.0, lat + dlat), min(180.0, lon + dlon))
    for precision in sorted(CELL_PRECISIONS, reverse=True):
        if _fewest_cells(box, precision) > max_cells:
            continue  # certainly too many: skip enumerating them
        cells = pygeohash.geohashes_in_box(box, precision=precision)
        if len(cells) <= max_cells:
            return cells
    return pygeohash.geohashes_in_box(box, precision=min(CELL_PRECISIONS))


def _fewest_cells(box, precision: int) -> int:
    """A lower bound of how many cells of this precision any cover of the box needs."""
    lat_step = 180.0 / (1 << ((5 * precision) // 2))
    lon_step = 360.0 / (1 << ((5 * precision + 1) // 2))
    rows = max(1, math.ceil((box.max_lat - box.min_lat) / lat_step - 1e-9))
    cols = max(1, math.ceil((box.max_lon - box.min_lon) / lon_step - 1e-9))
    return rows * cols
