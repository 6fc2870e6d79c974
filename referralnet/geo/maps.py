"""Maps on the search results and service pages: where the tiles come from, the Content Security
Policy that lets the browser fetch them, and directions links.

The map itself is Leaflet, vendored into static/vendor/leaflet/ by `make` (never loaded from a CDN);
only its tiles come from outside, from MAP_TILE_URL (OpenStreetMap's by default). With MAP_TILE_URL
set to "" no tile host is contacted and no host is added to the CSP: the map shows the markers on a
blank ground. Confidential locations never reach a map (the search documents carry no coordinates
for them, and the service page leaves them out).
"""
from __future__ import annotations

from typing import Optional
from urllib.parse import quote, urlsplit

DEFAULT_TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
DEFAULT_TILE_ATTRIBUTION = "© OpenStreetMap contributors"
OSM_DIRECTIONS = "https://www.openstreetmap.org/directions"


def check_tile_url(url: Optional[str]) -> Optional[str]:
    """MAP_TILE_URL as configured: None when empty (no tiles), else the template itself.

    Raises ValueError saying what is wrong when it is not an http(s) URL template with {z}, {x} and {y}.
    """
    url = (url or "").strip()
    if not url:
        return None
    parts = urlsplit(url.replace("{s}", "a"))
    missing = [p for p in ("{z}", "{x}", "{y}") if p not in url]
    if parts.scheme not in ("http", "https") or not parts.netloc or missing:
        raise ValueError(f"MAP_TILE_URL “{url}” is not a tile URL template: it must start with https:// (or "
                         "http://) and contain {z}, {x} and {y}, like " + DEFAULT_TILE_URL + " (set it to an empty "
                         "value for a map without tiles).")
    return url


def tile_source(url: Optional[str]) -> Optional[str]:
    """The CSP source that allows the tiles of `url` (its scheme and host; a {s} subdomain as a wildcard)."""
    url = check_tile_url(url)
    if url is None:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.replace('{s}', '*')}"


def csp_allowing_tiles(csp: dict, tile_url: Optional[str]) -> dict:
    """A copy of `csp` whose img-src also allows the tile host of `tile_url` (unchanged when there is none)."""
    source = tile_source(tile_url)
    if source is None:
        return dict(csp)
    images = csp.get("img-src", ["'self'"])
    images = [images] if isinstance(images, str) else list(images)
    return {**csp, "img-src": images + ([source] if source not in images else [])}


def directions_url(latitude: float, longitude: float) -> str:
    """OpenStreetMap's directions to a point (the start is left to the person: no client address leaves us)."""
    return f"{OSM_DIRECTIONS}?route={quote(f';{latitude:.6f},{longitude:.6f}', safe='')}"
