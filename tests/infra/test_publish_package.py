"""The publish package, built the way `func azure functionapp publish` (and azd, and VS Code)
build it: every file of the project folder that .funcignore (gitignore syntax) does not exclude,
zipped. It must hold the app, and no private key, no test data and no local state, even in a
folder where `make demo`, Azurite and a local build have left their files."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pathspec
import pytest

from localazure.certs import make_certificates
from tests.infra import bicep

ROOT = bicep.ROOT
PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----")
APP = ("function_app.py", "host.json", "requirements.txt", "provisioning/reconcile.py")
# What a working folder holds besides the project's files, and must never be published.
LOCAL_STATE = (
    ".localazure/",
    ".azurite/",
    "__azurite_db_",
    "__blobstorage__/",
    "__queuestorage__/",
    "local.settings.json",
    ".python_packages/",
    ".azure/",
    ".venv/",
    "node_modules/",
)


def build_package(root: Path, funcignore: str, destination: Path) -> Path:
    """Zip every file under ``root`` that ``funcignore`` keeps, as Core Tools does."""
    spec = pathspec.GitIgnoreSpec.from_lines(funcignore.splitlines())
    with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED) as package:
        for directory, subdirectories, files in os.walk(root):
            relative = Path(directory).relative_to(root)
            # An excluded folder is excluded whole; not descending keeps .venv's walk short.
            subdirectories[:] = [
                d for d in subdirectories if not spec.match_file(f"{(relative / d).as_posix()}/")
            ]
            for name in files:
                path = (relative / name).as_posix()
                if not spec.match_file(path):
                    package.write(Path(directory) / name, path)
    return destination


def problems(package: Path) -> list[str]:
    """What must not be published: a private key, test data, local state."""
    found = []
    with zipfile.ZipFile(package) as archive:
        for name in archive.namelist():
            if PRIVATE_KEY.search(archive.read(name)):
                found.append(f"{name}: holds a private key")
            if name.startswith("tests/") or "/tests/" in name:
                found.append(f"{name}: test code or data")
            state = [s for s in LOCAL_STATE if name.startswith(s) or f"/{s}" in name]
            if state:
                found.append(f"{name}: local state ({state[0]})")
    return found


def _funcignore() -> str:
    return (ROOT / ".funcignore").read_text(encoding="utf-8")


@pytest.fixture
def used_folder(tmp_path: Path) -> Path:
    """The project's files, plus what a newcomer's runs leave: the demo's CA key, Azurite's
    files in the working directory and in .azurite/, local settings, a local build, azd's env."""
    folder = tmp_path / "project"
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for name in listed:
        if (ROOT / name).is_file():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, folder / name)
    # The stand-ins' throwaway CA and server key, where the ARM emulator's CLI writes them.
    make_certificates(folder / ".localazure" / "certs")
    leftovers = {
        ".localazure/reliability/crash.json": b"{}",
        "__azurite_db_queue__.json": b"{}",
        "__queuestorage__/0f1e": b"message",
        "__blobstorage__/0a1b": b"blob",
        ".azurite/__azurite_db_table__.json": b"{}",
        "local.settings.json": b'{"Values": {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}}',
        ".python_packages/lib/site-packages/azure/__init__.py": b"",
        ".azure/dev/.env": b'AZURE_ENV_NAME="dev"\n',
        ".venv/lib/python3.11/site-packages/x.py": b"",
    }
    for name, content in leftovers.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    return folder


def test_the_package_holds_the_app_and_nothing_local(used_folder: Path, tmp_path: Path) -> None:
    """From a used folder: the app's files are in, keys, tests and local state are out."""
    package = build_package(used_folder, _funcignore(), tmp_path / "app.zip")
    assert problems(package) == []
    names = set(zipfile.ZipFile(package).namelist())
    assert set(APP) <= names


def test_the_package_of_this_working_folder_is_clean(tmp_path: Path) -> None:
    """The same build from this repository's folder as it is now (after whatever ran here)."""
    package = build_package(ROOT, _funcignore(), tmp_path / "app.zip")
    assert problems(package) == []
    assert set(APP) <= set(zipfile.ZipFile(package).namelist())


def test_a_funcignore_that_lets_localazure_through_fails(used_folder: Path, tmp_path: Path) -> None:
    """Without its .localazure line, .funcignore publishes the stand-ins' local state; without
    the key patterns as well, the local server's private key."""
    lines = _funcignore().splitlines()
    assert ".localazure" in lines
    leaky = [line for line in lines if line != ".localazure"]
    found = problems(build_package(used_folder, "\n".join(leaky), tmp_path / "leaky.zip"))
    assert ".localazure/reliability/crash.json: local state (.localazure/)" in found, found
    leakier = "\n".join(line for line in leaky if line not in ("*.pem", "*.key"))
    found = problems(build_package(used_folder, leakier, tmp_path / "leakier.zip"))
    assert ".localazure/certs/server-key.pem: holds a private key" in found, found


@pytest.mark.parametrize("state", LOCAL_STATE)
def test_git_ignores_the_same_local_state(state: str) -> None:
    """.gitignore keeps every kind of local state out of commits too."""
    spec = pathspec.GitIgnoreSpec.from_lines(
        (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    )
    example = state + (
        "x" if state.endswith("/") else "queue__.json" if state.endswith("_") else ""
    )
    assert spec.match_file(example), example
