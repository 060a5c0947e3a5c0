"""Web holes on both servers: no login redirect leaves the site, data directories are private, cookies can be
Secure behind TLS."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import httpx
import pytest
from tests.support.cluster import command

from sync.kit.safety import same_origin_path

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
VILLAGE = "八达镇周邦村便民服务站"
# Each one a browser reads as another site (the URL standard drops tabs and newlines, reads "\" as "/").
OFF_SITE = ["/%09/evil.example/x", "/%0A/evil.example", "/%0d/evil.example", "//evil.example/x", "/%5Cevil.example",
            "%5C%5Cevil.example", "https://evil.example/", "javascript:alert(1)", "/\t/evil.example"]


@pytest.mark.parametrize("target", ["/\t/evil.example", "/\n/evil", "/\\evil.example", "\\\\evil", "//evil",
                                    "http://evil", "evil.example", "", None, " /x", "/x\x00"])
def test_only_plain_paths_on_this_site_are_same_origin(target):
    assert same_origin_path(target) is None


def test_a_path_with_its_query_stays():
    assert same_origin_path("/cases/abc?q=%E9%99%88&page=2") == "/cases/abc?q=%E9%99%88&page=2"


def log_in(url: str, username: str, password: str, next_target: str) -> httpx.Response:
    with httpx.Client(base_url=url) as browser:
        token = CSRF.search(browser.get("/login").text).group(1)
        raw = httpx.URL(url + "/login").copy_with(raw_path=f"/login?next={next_target}".encode("ascii"))
        return browser.post(raw, data={"username": username, "password": password, "csrf_token": token})


def test_no_login_redirect_leaves_the_site_on_either_server(cluster):
    hub = cluster.start_hub()
    point = cluster.start_point(VILLAGE, "village")
    for url, username, password in ((hub.url, "admin", "hub-admin-pass"),
                                    (point.url, "staff", "point-staff-pass")):
        for target in OFF_SITE:
            answer = log_in(url, username, password, target.replace("\t", "%09"))
            assert answer.status_code == 302, (url, target, answer.text[:200])
            location = answer.headers["Location"]
            assert location.startswith("/") and not location.startswith("//") and "evil" not in location, \
                (url, target, location)
        kept = log_in(url, username, password, "/sync")
        assert kept.headers["Location"] == "/sync", "a path on this site is where the login goes"


def modes(root: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        if not path.is_symlink():
            found[str(path.relative_to(root))] = stat.S_IMODE(path.stat().st_mode)
    return found


def readable_by_others(root: Path) -> dict[str, str]:
    return {name: oct(mode) for name, mode in modes(root).items() if mode & 0o077}


@pytest.mark.skipif(os.name == "nt", reason="POSIX modes")
def test_data_directories_are_private_and_upgrade_fixes_old_ones(cluster, tmp_path):
    hub = cluster.start_hub()
    point = cluster.start_point(VILLAGE, "village")
    assert point.api("staff").post("/api/sync").status_code == 200
    for data in (hub.data, point.data):
        assert readable_by_others(data) == {}, data
        assert (data / "secret_key").exists()
    cluster.stop_server(point)

    # A directory an older release left readable to every local account.
    for path in [point.data, *point.data.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    upgraded = cluster.run(command("pointkit"), "upgrade", "--data", str(point.data))
    assert "readable by this account only" in upgraded
    assert readable_by_others(point.data) == {}

    bare = tmp_path / "another-hub"
    cluster.run(command("pointkit-hub"), "init", "--data", str(bare), "--admin-password", "hub-admin-pass")
    assert readable_by_others(bare) == {}
    for path in [bare, *bare.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    assert "readable by this account only" in cluster.run(command("pointkit-hub"), "upgrade", "--data", str(bare))
    assert readable_by_others(bare) == {}


def test_session_cookies_are_secure_only_behind_tls(cluster):
    hub = cluster.start_hub()
    _, behind = cluster._spawn("hub behind tls", hub.data, [command("pointkit-hub"), "serve", "--data",
                                                            str(hub.data), "--behind-tls"], log_name="hub-tls")
    for url, secure in ((hub.url, False), (behind, True)):
        cookie = httpx.get(url + "/login").headers["Set-Cookie"]
        assert ("; Secure" in cookie) is secure, (url, cookie)
