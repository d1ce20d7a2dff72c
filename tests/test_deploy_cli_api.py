"""``llmplan deploy`` and ``POST /api/v1/deploy``: the same files from both; bad input is
one line and exit code 2 on the command line, 422 naming the field on the API."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmplan.api import Settings, create_app
from llmplan.cli.main import app as cli

with warnings.catch_warnings():  # starlette suggests httpx2; httpx works
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    made = TestClient(create_app(Settings(home=tmp_path)), base_url="http://localhost")
    yield made
    made.app.state.llmplan.store.close()  # type: ignore[attr-defined]


def _deploy(*args: str) -> CliRunner:
    return CliRunner().invoke(cli, ["deploy", *args])  # type: ignore[return-value]


def test_cli_writes_the_files_it_prints(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _deploy("--example", "chat-assistant", "--target", "docker-compose", "--out",
                     str(out), "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    files = json.loads(result.stdout)["files"]
    assert "docker-compose.yaml" in files
    for name, text in files.items():
        assert (out / name).read_text(encoding="utf-8") == text
    assert os.access(out / "bench.sh", os.X_OK)


def test_api_answers_what_the_cli_writes(client: TestClient, tmp_path: Path) -> None:
    result = _deploy("--example", "rag-long-prompts", "--target", "kubernetes", "--out",
                     str(tmp_path / "k"), "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    response = client.post(
        "/api/v1/deploy", json={"example": "rag-long-prompts", "target": "kubernetes"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["files"] == json.loads(result.stdout)["files"]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--target", "helm"], "target"),
        (["--option", "moon"], "option"),
        (["--option", "api"], "option"),
        (["--workload", "nope"], "workload"),
    ],
)
def test_cli_refuses_bad_input_in_one_line(args: list[str], field: str, tmp_path: Path) -> None:
    result = _deploy("--example", "chat-assistant", "--out", str(tmp_path / "o"), *args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert field in lines[0]
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"target": "helm"}, "target"),
        ({"option": "moon"}, "option"),
        ({"option": "api"}, "option"),
        ({"workload": "nope"}, "workload"),
        ({"example": "no-such-example"}, "example"),
    ],
)
def test_api_refuses_bad_input_with_422(
    client: TestClient, body: dict[str, str], field: str
) -> None:
    response = client.post("/api/v1/deploy", json={"example": "chat-assistant", **body})
    assert response.status_code == 422, response.text
    error = response.json()
    assert error["field"] == field, error


def test_archive_holds_the_same_files_with_executable_scripts(client: TestClient) -> None:
    import io
    import zipfile

    body = {"example": "chat-assistant", "target": "systemd"}
    files = client.post("/api/v1/deploy", json=body).json()["files"]
    response = client.post("/api/v1/deploy/archive", json=body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert 'filename="deploy-systemd.zip"' in response.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        inside = {i.filename.removeprefix("deploy-systemd/"): i for i in archive.infolist()}
        assert set(inside) == set(files)
        for name, info in inside.items():
            assert archive.read(info).decode() == files[name]
        assert (inside["bench.sh"].external_attr >> 16) & 0o111
    again = client.post("/api/v1/deploy/archive", json=body)
    assert again.content == response.content  # fixed timestamps: the same bytes


def test_archive_refuses_bad_input_with_422(client: TestClient) -> None:
    response = client.post("/api/v1/deploy/archive", json={"example": "chat-assistant",
                                                           "target": "helm"})  # fmt: skip
    assert response.status_code == 422
    assert response.json()["field"] == "target"
