"""The web UI's "Download deployment" button (headless Chromium, as test_web_browser.py):
the editor's scenario goes to ``POST /api/v1/deploy/archive`` and a zip of the target's
files downloads."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from test_web_browser import _wait_valid, browser, server  # noqa: F401 (fixtures)


def test_download_deployment_from_the_editor(server: str, browser: Any, tmp_path: Path) -> None:  # noqa: F811
    page = browser.new_page(accept_downloads=True)
    page.goto(server)
    page.wait_for_selector("body[data-ready='1']")
    page.select_option("#examples", "chat-assistant")
    page.click("#load-example")
    _wait_valid(page, "chat-assistant", server)
    page.select_option("#deploy-target", "kubernetes")
    with page.expect_download(timeout=120_000) as download:
        page.click("#deploy")
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    assert path.name == "deploy-kubernetes.zip"
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
    assert "deploy-kubernetes/kubernetes/chat-deployment.yaml" in names
    assert "deploy-kubernetes/README.md" in names
    page.close()
