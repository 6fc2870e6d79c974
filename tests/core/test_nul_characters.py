"""A NUL character in a URL or in input is refused up front (PostgreSQL cannot store one)."""
from __future__ import annotations

import pytest


@pytest.fixture()
def signed_in(login_as):
    return login_as("coordinator")


def test_a_path_with_nul_is_not_found(client, signed_in):
    for url in ("/services/abc%00", "/referrals/1%00", "/partner/listings/x%00/capacity", "/hsds/services/a%00"):
        assert client.get(url).status_code == 404, url


def test_a_parameter_or_field_with_nul_names_it(client, signed_in):
    response = client.get("/search?q=food%00")
    assert response.status_code == 422 and "“q” contains a NUL character." in response.get_data(as_text=True)
    api = client.get("/hsds/services?search=a%00", headers={"Accept": "application/json"})
    # The HSDS API's one contract for bad parameters is 400.
    assert api.status_code == 400 and api.get_json()["errors"] == {"search": ["Remove the NUL character."]}


def test_json_with_nul_is_refused(client):
    response = client.post("/api/v1/clients", json={"given_name": "A\u0000", "family_name": "B"})
    assert response.status_code == 422  # refused before anything reads it, never a 500
    response = client.post("/fhir/Task", json={"resourceType": "Task", "note": [{"text": "x\u0000"}]},
                           headers={"Content-Type": "application/fhir+json"})
    assert response.status_code < 500
