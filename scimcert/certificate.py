"""The certificate of a report: what someone who receives conformance.json can check.

    scimcert verify reports/conformance.json

A report states the tool version, the seed, a digest of what judged the run (the requirement
catalogue, the IdP profiles and the JSON Schemas) and a digest of the report itself. The receiver
recomputes the report digest (it was not edited), compares the catalogue digest with their own
scimcert's (the same requirements judged it), and re-runs with `--seed` to compare the results.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from . import __version__
from .paths import FIXTURES, SCHEMAS

CERTIFICATE_HOW = ("To check this report: `scimcert verify conformance.json` recomputes the report digest (SHA-256 of "
                   "the report without its certificate, as canonical JSON) and compares the catalogue digest with the "
                   "installed scimcert's; `scimcert run --seed SEED` with the same options replays the test data.")


def _judging_files() -> list[tuple[str, Path]]:
    files = [("fixtures/requirements.json", FIXTURES / "requirements.json")]
    files += [(f"fixtures/idps/{p.name}", p) for p in sorted((FIXTURES / "idps").glob("*.json"))]
    files += [(f"schemas/{p.relative_to(SCHEMAS).as_posix()}", p) for p in sorted(SCHEMAS.rglob("*.json"))]
    return files


def catalogue_digest() -> str:
    """SHA-256 over the requirement catalogue, the IdP profiles and the schemas (name and bytes of each)."""
    digest = hashlib.sha256()
    for name, path in _judging_files():
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return "sha256:" + digest.hexdigest()


def report_digest(document: dict) -> str:
    """SHA-256 of the report without its certificate, as canonical JSON (sorted keys, no spaces, UTF-8)."""
    body = {key: value for key, value in document.items() if key != "certificate"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def certify(document: dict) -> dict:
    return {"tool": f"scimcert {__version__}", "seed": document["seed"], "catalogueDigest": catalogue_digest(),
            "reportDigest": report_digest(document)}


def problems(document: dict) -> list[str]:
    """Why the report does not check out against itself and this scimcert (empty: it does)."""
    certificate = document.get("certificate")
    if not isinstance(certificate, dict):
        return ["the report has no certificate"]
    found = []
    if certificate.get("reportDigest") != report_digest(document):
        found.append("the report digest does not match: the report was changed after it was written")
    if certificate.get("catalogueDigest") != catalogue_digest():
        found.append(f"the catalogue digest differs from this scimcert's ({certificate.get('tool')} wrote it; this is "
                     f"scimcert {__version__}): other requirements, profiles or schemas judged it")
    if certificate.get("seed") != document.get("seed"):
        found.append("the certificate's seed is not the report's")
    return found


def main(argv: list[str] | None = None) -> int:
    """`scimcert verify FILE`: 0 the report checks out, 1 it does not, 2 it cannot be read."""
    import argparse

    p = argparse.ArgumentParser(prog="scimcert verify", description="Check a conformance.json's certificate.")
    p.add_argument("report", type=Path, help="a conformance.json written by scimcert run")
    args = p.parse_args(argv)
    try:
        document = json.loads(args.report.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        print(f"error: cannot read {args.report}: {exc}", file=sys.stderr)
        return 2
    found = problems(document) if isinstance(document, dict) else ["not a scimcert report"]
    for problem in found:
        print(f"NOT VERIFIED: {problem}")
    if not found:
        certificate = document["certificate"]
        print(f"verified: {certificate['tool']}, seed {certificate['seed']}, verdict {document.get('verdict')}, "
              f"catalogue {certificate['catalogueDigest'][:19]}…, report {certificate['reportDigest'][:19]}…")
    return 1 if found else 0
