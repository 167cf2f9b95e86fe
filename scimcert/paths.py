"""Where the project's data lives: the top-level schemas/ and fixtures/ folders of the repository."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "schemas"
FIXTURES = ROOT / "fixtures"
DEFAULT_TENANT = FIXTURES / "tenant.json"
