"""Where the suite's data lives: the checks (suites/), the JSON Schemas (schemas/) and the fixtures
(fixtures/: the requirement catalogue, the IdP profiles, the reference tenant).

In a clone, and in an editable install, they are the repository's top-level folders. An installed wheel
carries the same folders inside the package, as scimcert/_data/{suites,schemas,fixtures}: pyproject.toml
maps them there (setuptools `package-dir`), and they are found through importlib.resources.
"""

from importlib.resources import files
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the repository, in a clone


def _data(name: str) -> Path:
    installed = files("scimcert") / "_data" / name
    return Path(str(installed)) if installed.is_dir() else ROOT / name


SUITES = _data("suites")
SCHEMAS = _data("schemas")
FIXTURES = _data("fixtures")
DEFAULT_TENANT = FIXTURES / "tenant.json"
