"""Bad input names its field: `{"error": <words>, "detail": {"field": <path>}}`, a 400,
and nothing stored."""

from __future__ import annotations


def test_a_query_parameter_error_is_in_words_with_its_field(client):
    response = client.get("/v1/runtime/resources", params={"kind": "k" * 100})
    assert response.status_code == 400
    assert response.json() == {
        "error": "kind is too long (at most 63 characters)",
        "detail": {"field": "kind"},
    }


def test_a_body_type_error_names_its_field(client, row_counts):
    before = row_counts()
    response = client.post(
        "/v1/templates",
        json={"name": "t", "image": "i", "exposedPorts": [{"name": "web", "port": "80"}]},
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid JSON request body",
        "detail": {
            "reason": "exposedPorts[0].port must be a whole number",
            "field": "exposedPorts[0].port",
        },
    }
    assert row_counts() == before
