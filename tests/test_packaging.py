"""The package works without a clone: a wheel, installed (not editable) in a fresh virtualenv, runs the
suite from an empty directory against the embedded reference server.

The wheel is built from this checkout without a build environment (no network: the loopback-only rule), and
installed without its dependencies; the fresh virtualenv borrows them from the project's environment through a
path entry, which adds their folder but not its .pth files, so the project's own editable scimcert stays out
of reach: the assertions check that scimcert and its data are imported from the wheel's installation.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from scimcert import __version__
from scimcert.paths import ROOT
from scimcert.requirements import catalogue

DATA = {"suites": "*.py", "schemas": "**/*.json", "fixtures": "**/*.json"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Built from a copy of the checkout: an in-tree build would leave build/ behind, whose stale files a later
    wheel would carry."""
    source, out = tmp_path_factory.mktemp("source") / "scimcert", tmp_path_factory.mktemp("wheel")
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv", ".tox", "reports", "build", "dist",
                                                                "*.egg-info", "__pycache__", ".hypothesis"))
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                            "--wheel-dir", str(out), str(source)], capture_output=True, text=True, timeout=300,
                           env={**os.environ, "PIP_NO_INDEX": "1"})
    assert build.returncode == 0, build.stderr[-3000:]
    (found,) = out.glob("scimcert-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh virtualenv with the wheel installed; its bin folder."""
    home = tmp_path_factory.mktemp("venv")
    venv.create(home, with_pip=False, clear=True)
    python = home / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    (Path(purelib) / "borrowed-dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                              "--no-deps", "--no-index", str(wheel)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr[-3000:]
    return home / "bin"


def clean_environment() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith(("SCIM_", "PYTEST_", "PYTHONPATH"))}


def test_the_wheel_carries_the_suites_schemas_and_fixtures(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder, pattern in DATA.items():
        expected = {f"scimcert/_data/{folder}/{p.relative_to(ROOT / folder).as_posix()}"
                    for p in (ROOT / folder).glob(pattern) if "__pycache__" not in p.parts}
        assert expected and expected <= names, sorted(expected - names)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[pytest11]\nscimcert.plugin = scimcert.plugin" in text and "scimcert = scimcert.__main__:main" in text


def test_scimcert_run_from_an_empty_directory_passes_and_writes_its_reports(installed, tmp_path):
    where = subprocess.run([str(installed / "python"), "-c",
                            "import scimcert, scimcert.paths as p; print(scimcert.__file__); print(p.SUITES)"],
                           capture_output=True, text=True, cwd=tmp_path, env=clean_environment(), check=True)
    module, suites = where.stdout.split()
    assert module.startswith(str(installed.parent)) and suites.startswith(str(installed.parent))
    assert Path(suites).name == "suites" and "_data" in Path(suites).parts
    version = subprocess.run([str(installed / "scimcert"), "--version"], capture_output=True, text=True,
                             cwd=tmp_path, env=clean_environment())
    assert version.stdout.strip() == f"scimcert {__version__}"
    run = subprocess.run([str(installed / "scimcert"), "run", "--idp", "okta,entra", "--workers", "2"],
                         capture_output=True, text=True, cwd=tmp_path, env=clean_environment(), timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    lines = run.stdout.strip().splitlines()
    assert "against the embedded reference server" in lines[0]
    assert lines[-1].startswith("scimcert verdict: PASS against the embedded reference server")
    document = json.loads((tmp_path / "reports" / "conformance.json").read_text("utf-8"))
    assert document["verdict"] == "PASS" and document["target"]["idps"] == ["okta", "entra"]
    assert {"conformance.html", "junit.xml"} <= {p.name for p in (tmp_path / "reports").iterdir()}
    listed = subprocess.run([str(installed / "scimcert"), "requirements", "--json"], capture_output=True, text=True,
                            cwd=tmp_path, env=clean_environment(), check=True)
    assert [r["id"] for r in json.loads(listed.stdout)] == list(catalogue())
