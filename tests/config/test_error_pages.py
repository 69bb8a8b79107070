"""Errors outside the DRF views: JSON `{"code", "detail"}` under /api/ (SPEC §6.1), the
HTML pages elsewhere; an API write without its trailing slash is never redirected."""

import pytest


@pytest.fixture
def api_client(api_client_for, admin_a):
    client = api_client_for(admin_a)
    client.raise_request_exception = False
    return client


@pytest.mark.parametrize(
    "path",
    ["/api/v1/nothing/", "/api/v1/license/historyx/", "/api/v1/tickets/not-a-number/", "/api/"],
)
def test_an_unknown_api_path_answers_a_json_404(api_client, path):
    response = api_client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"code": "not_found", "detail": f"There is no API endpoint {path}."}


def test_an_unknown_page_is_still_the_html_404(page_client_for, admin_a):
    response = page_client_for(admin_a).get("/nothing-here/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert "Not found" in response.content.decode()


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_an_api_write_without_the_trailing_slash_is_a_json_404_not_a_redirect(api_client, method):
    response = getattr(api_client, method)("/api/v1/license", {"token": "x"}, format="json")
    assert response.status_code == 404
    assert response.json() == {
        "code": "not_found",
        "detail": "There is no API endpoint /api/v1/license: did you mean /api/v1/license/ "
        "(with the trailing slash)?",
    }


def test_an_api_read_without_the_trailing_slash_is_still_redirected(api_client):
    response = api_client.get("/api/v1/license")
    assert response.status_code == 301 and response["Location"] == "/api/v1/license/"


def test_a_page_post_without_the_trailing_slash_keeps_djangos_behaviour(page_client_for, admin_a):
    response = page_client_for(admin_a).post("/settings/license", {"token": "x"})
    assert response.status_code == 301 and response["Location"] == "/settings/license/"


@pytest.mark.urls("tests.config.urls_with_a_failing_view")
def test_a_server_error_under_the_api_is_json(api_client):
    response = api_client.get("/api/v1/fails/")
    assert response.status_code == 500
    assert response.json() == {
        "code": "server_error",
        "detail": "Tally failed to answer this request; the error is logged for the operator. "
        "Try again later.",
    }


@pytest.mark.urls("tests.config.urls_with_a_failing_view")
def test_a_server_error_on_a_page_is_html(page_client_for, admin_a):
    client = page_client_for(admin_a)
    client.raise_request_exception = False
    response = client.get("/fails/")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")


def test_an_api_body_over_the_upload_limit_is_a_json_400(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = api_client.post(
        "/api/v1/tasks/", {"title": "t", "description": "x" * 2000}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "code": "too_large",
        "detail": "The request body is over 1,000 bytes, the most Tally reads; send less at once.",
    }


def test_a_page_body_over_the_upload_limit_keeps_the_html_400(page_client_for, admin_a, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    client = page_client_for(admin_a)
    client.raise_request_exception = False
    response = client.post("/tasks/", {"title": "t", "description": "x" * 2000})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


def test_a_server_error_page_stands_alone(page_client_for, admin_a, settings):
    """500.html renders without a request context: no navigation, nothing that could fail."""
    from django.template.loader import render_to_string

    html = render_to_string("500.html")
    assert "Something went wrong" in html and "logged" in html
