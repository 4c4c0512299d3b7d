"""The local host's CORS behaves as func start's (ASP.NET Core's middleware with Host.CORS)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from localazure.host.config import HostConfigError, parse_host_start_settings
from localazure.host.cors import CorsPolicy, is_preflight
from tests.localazure.test_local_host import TRIVIAL_APP, app_settings, records  # noqa: F401

SPA = "http://localhost:5173"
OTHER = "http://127.0.0.1:5173"


def test_parse_splits_on_commas_and_empty_means_no_middleware():
    """--cors takes 'a,b'; an empty value (the default) installs no CORS at all."""
    policy = CorsPolicy.parse("https://A.example/, http://localhost:5173")
    assert policy is not None
    assert policy.origins == {"https://a.example", "http://localhost:5173"}
    assert CorsPolicy.parse("") is None
    assert CorsPolicy.parse(" , ") is None


def test_preflight_from_an_allowed_origin_echoes_method_and_headers():
    """AllowAnyMethod/AllowAnyHeader: the requested method and headers come back."""
    policy = CorsPolicy.parse(SPA)
    assert policy is not None
    request = {
        "Origin": SPA,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    assert is_preflight("OPTIONS", request)
    assert dict(policy.preflight(request)) == {
        "Access-Control-Allow-Origin": SPA,
        "Vary": "Origin",
        "Access-Control-Allow-Methods": "POST",
        "Access-Control-Allow-Headers": "authorization,content-type",
    }


def test_preflight_from_another_origin_gets_no_cors_headers():
    """The other origin's preflight is answered without Access-Control-*: the browser refuses."""
    policy = CorsPolicy.parse(SPA)
    assert policy is not None
    request = {"Origin": OTHER, "Access-Control-Request-Method": "GET"}
    assert policy.preflight(request) == []
    assert policy.actual({"Origin": OTHER}) == []


def test_wildcard_and_credentials():
    """'*' allows any origin with a literal '*'; with credentials the origin is echoed instead."""
    anyone = CorsPolicy.parse("*")
    assert anyone is not None
    assert anyone.actual({"Origin": OTHER}) == [("Access-Control-Allow-Origin", "*")]
    with_credentials = CorsPolicy.parse("*", credentials=True)
    assert with_credentials is not None
    assert dict(with_credentials.actual({"Origin": OTHER})) == {
        "Access-Control-Allow-Origin": OTHER,
        "Vary": "Origin",
        "Access-Control-Allow-Credentials": "true",
    }


def test_host_section_of_local_settings():
    """Host.CORS and Host.CORSCredentials are read as func start reads them."""
    settings = parse_host_start_settings({"Host": {"CORS": SPA, "CORSCredentials": True}})
    assert (settings.cors, settings.cors_credentials) == (SPA, True)
    assert parse_host_start_settings({"Values": {}}).cors == ""
    with pytest.raises(HostConfigError, match=r"Host\.CORS"):
        parse_host_start_settings({"Host": {"CORS": ["a"]}})


def test_local_host_applies_cors_over_the_wire(start_local_host, app_settings):  # noqa: F811
    """Preflight answered by the host (204), allowed origin gets ACAO, the other origin none."""
    host = start_local_host(TRIVIAL_APP, app_settings, cors=[SPA])
    url = f"{host.http_url}/api/items/1"
    allowed = requests.options(
        url,
        headers={
            "Origin": SPA,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        },
        timeout=5,
    )
    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == SPA
    assert allowed.headers["Access-Control-Allow-Headers"] == "authorization"
    refused = requests.options(
        url, headers={"Origin": OTHER, "Access-Control-Request-Method": "POST"}, timeout=5
    )
    assert refused.status_code == 204
    assert not [h for h in refused.headers if h.lower().startswith("access-control-")]
    got = requests.get(url, headers={"Origin": SPA}, timeout=5)
    assert got.status_code == 200 and got.headers["Access-Control-Allow-Origin"] == SPA
    plain = requests.get(url, timeout=5)
    assert "Access-Control-Allow-Origin" not in plain.headers


def test_local_settings_host_cors_is_the_default(tmp_path: Path, start_local_host, app_settings):  # noqa: F811
    """Without --cors, the host takes Host.CORS from the app's local.settings.json."""
    app = tmp_path / "app"
    app.mkdir()
    for name in ("function_app.py", "host.json"):
        (app / name).write_text((TRIVIAL_APP / name).read_text())
    (app / "local.settings.json").write_text(json.dumps({"Host": {"CORS": SPA}}))
    host = start_local_host(app, app_settings)
    got = requests.get(f"{host.http_url}/api/items/1", headers={"Origin": SPA}, timeout=5)
    assert got.headers["Access-Control-Allow-Origin"] == SPA
