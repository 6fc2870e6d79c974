"""geo.Points: "is any of these places within N miles?" answers as the great-circle distance does,
near the equator, at high latitudes and across the antimeridian, where its box of degrees is widest."""
from __future__ import annotations

import random

import pytest

from referralnet.geo import Points, distance_miles


@pytest.mark.parametrize("latitude", [0.0, 37.5, -45.0, 64.0, 80.0])
def test_it_agrees_with_the_exact_distance(latitude):
    rng = random.Random(int(latitude * 10))
    for _ in range(2000):
        here = (latitude + rng.uniform(-1, 1), rng.uniform(-180, 180))
        points = [(here[0] + rng.uniform(-0.3, 0.3), (here[1] + rng.uniform(-0.8, 0.8) + 180) % 360 - 180)
                  for _ in range(3)]
        assert Points(points).any_within(here, 10) == any(distance_miles(here, p) <= 10 for p in points), (here, points)


def test_places_just_inside_and_just_outside():
    san_mateo = (37.5630, -122.3255)
    due_north = [(san_mateo[0] + 9.9 / 69.09, san_mateo[1])]
    assert Points(due_north).any_within(san_mateo, 10)
    assert not Points(due_north).any_within(san_mateo, 9.8)
    assert Points([(0.0, -179.99)]).any_within((0.0, 179.99), 10)  # across the antimeridian
    assert not Points([]).any_within(san_mateo, 10)
