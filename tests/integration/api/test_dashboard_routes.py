"""The dashboard's page and files: served by the API process, public, cached by ETag, under
a strict Content-Security-Policy, complete (every file the page names is served), and free
of markup injection (no innerHTML) and of anything fetched from elsewhere."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.integration.api.auth_fixtures import Keys, auth_settings

from seriesguard.api.app import create_app
from seriesguard.api.routes.dashboard import CONTENT_SECURITY_POLICY
from seriesguard.dashboard import MEDIA_TYPES, load_assets
from seriesguard.runtime import Role, build_runtime
from seriesguard.settings import Settings

ASSETS = load_assets()
SCRIPTS = {name: asset.body.decode() for name, asset in ASSETS.items() if name.endswith(".js")}
IMPORT = re.compile(
    r"""\bimport\s[^'"]*?from\s+['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]"""
)
REFERENCE = re.compile(r"""\b(?:src|href)\s*=\s*["']([^"']+)["']""")
ADDRESS = re.compile(r"""(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}[^\s'")]*""")
# XML namespaces are names, not addresses: nothing is fetched from them.
NAMESPACES = {"http://www.w3.org/2000/svg"}


def plain_settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(home=tmp_path, mlflow_tracking_uri="memory://", **overrides)  # type: ignore[arg-type]


@pytest.fixture()
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    runtime = build_runtime(plain_settings(tmp_path), roles=frozenset({Role.API}))
    with TestClient(create_app(runtime)) as started:
        yield started


def test_the_package_ships_the_page_and_its_modules() -> None:
    assert {"index.html", "style.css", "favicon.svg", "app.js", "api.js", "dom.js"} <= set(ASSETS)
    assert {"fleet.js", "series.js", "plot.js", "jobs.js", "promotions.js"} <= set(ASSETS)


def test_root_serves_the_page_under_a_strict_policy(client: TestClient) -> None:
    answer = client.get("/")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["cache-control"] == "no-cache"
    assert 'data-testid="view"' in answer.text
    assert answer.content == ASSETS["index.html"].body


@pytest.mark.parametrize("name", sorted(ASSETS))
def test_every_asset_is_served_with_its_type_and_etag(client: TestClient, name: str) -> None:
    answer = client.get(f"/ui/{name}")
    assert answer.status_code == 200
    suffix = name[name.rfind(".") :]
    assert answer.headers["content-type"] == MEDIA_TYPES[suffix]
    assert answer.headers["etag"] == ASSETS[name].etag
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.content == ASSETS[name].body


def test_scripts_are_served_as_javascript(client: TestClient) -> None:
    assert client.get("/ui/app.js").headers["content-type"].startswith("text/javascript")


def test_an_unchanged_file_is_answered_304(client: TestClient) -> None:
    first = client.get("/ui/app.js")
    etag = first.headers["etag"]
    again = client.get("/ui/app.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    listed = client.get("/ui/app.js", headers={"If-None-Match": f'"other", W/{etag}'})
    assert listed.status_code == 304
    stale = client.get("/ui/app.js", headers={"If-None-Match": '"not-this-one"'})
    assert stale.status_code == 200
    assert stale.content == first.content
    assert client.get("/", headers={"If-None-Match": ASSETS["index.html"].etag}).status_code == 304


def test_an_unknown_file_is_not_found(client: TestClient) -> None:
    assert client.get("/ui/nope.js").status_code == 404
    assert client.get("/ui/../settings.py").status_code == 404


def test_the_dashboard_stays_out_of_the_api_schema(client: TestClient) -> None:
    paths = set(client.get("/openapi.json").json()["paths"])
    assert "/" not in paths
    assert not any(path.startswith("/ui/") for path in paths)


def test_page_and_files_are_public_while_the_data_needs_a_token(
    tmp_path: Path, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    runtime = build_runtime(auth_settings(tmp_path, keys), roles=frozenset({Role.API}))
    with TestClient(create_app(runtime)) as secured:
        assert secured.get("/").status_code == 200
        for name in ASSETS:
            assert secured.get(f"/ui/{name}").status_code == 200, name
        assert secured.get("/api/v1/fleet").status_code == 401
        assert secured.get("/api/v1/models").status_code == 401


def test_setting_off_serves_no_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    monkeypatch.setenv("SERIESGUARD_DASHBOARD", "false")
    settings = Settings(home=tmp_path, mlflow_tracking_uri="memory://")
    assert settings.dashboard is False
    with TestClient(create_app(build_runtime(settings, roles=frozenset({Role.API})))) as off:
        assert off.get("/").status_code == 404
        assert off.get("/ui/app.js").status_code == 404
        assert off.get("/api/v1/liveness").status_code == 200


def test_a_predictor_serves_no_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    runtime = build_runtime(plain_settings(tmp_path), roles=frozenset({Role.PREDICTOR}))
    with TestClient(create_app(runtime)) as predictor:
        assert predictor.get("/").status_code == 404


def referenced_files() -> set[str]:
    """Files the page names (relative ``ui/`` links) and every module imports."""
    page = ASSETS["index.html"].body.decode()
    named = {ref for ref in REFERENCE.findall(page) if not ref.startswith("#")}
    assert named, "the page references no files"
    assert all(ref.startswith("ui/") for ref in named), named  # relative: works under a prefix
    found = {ref.removeprefix("ui/") for ref in named}
    for name, text in SCRIPTS.items():
        for static, dynamic in IMPORT.findall(text):
            target = static or dynamic
            assert target.startswith("./"), f"{name} imports {target}: only sibling modules"
            found.add(target.removeprefix("./"))
    return found


def test_every_referenced_file_exists_as_a_route(client: TestClient) -> None:
    found = referenced_files()
    assert {"app.js", "style.css", "favicon.svg", "plot.js", "dom.js"} <= found
    for name in sorted(found):
        assert client.get(f"/ui/{name}").status_code == 200, name


def test_no_script_writes_markup_from_strings() -> None:
    sinks = ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(")
    for name, text in SCRIPTS.items():
        for sink in sinks:
            assert sink not in text, f"{name} uses {sink}"


def test_nothing_is_fetched_from_elsewhere() -> None:
    for name, asset in ASSETS.items():
        text = asset.body.decode()
        addresses = set(ADDRESS.findall(text))
        assert addresses <= NAMESPACES, f"{name} names {addresses - NAMESPACES}"


def test_the_page_has_no_inline_script_or_style() -> None:
    page = ASSETS["index.html"].body.decode()
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page) is None
    assert "<style" not in page
    assert " style=" not in page
    assert re.search(r"\son[a-z]+=", page) is None  # no inline event handlers
    for name, text in SCRIPTS.items():
        assert "setAttribute('style'" not in text and 'setAttribute("style"' not in text, name
