"""`scimcert run`: the conformance suite as one command, for vendors and CI pipelines.

    scimcert run [--base-url URL] [--idp okta,entra] [options] [-- pytest options]

It runs pytest on the checks the package carries (scimcert.paths.SUITES: the repository's suites/ in a
clone, the copy inside an installed wheel otherwise) with the scimcert plugin. Its options mirror the
environment contract (README, "Point it at your endpoint"): an option wins over its SCIM_* variable.
The token is read only from SCIM_TOKEN (and SCIM_REVOKED_TOKEN), never from the command line, where
it would show in process listings and CI logs. Anything after `--` goes to pytest unchanged (for
example `-- -k create -x`). The exit status is pytest's, plus the preflight's own codes (README,
"Exit status").
"""

from __future__ import annotations

import argparse
import os
import sys

from .paths import SUITES

# (option, the SCIM_* variable it sets): settings that have no pytest option of their own
AS_ENVIRONMENT = {"org_domains": "SCIM_ORG_DOMAINS", "guests": "SCIM_GUESTS", "user_domain": "SCIM_USER_DOMAIN",
                  "reactivation": "SCIM_REACTIVATION", "group_delete": "SCIM_GROUP_DELETE", "timeout": "SCIM_TIMEOUT"}
# (option, the plugin's pytest option): passed through as they are
AS_OPTION = {"base_url": "--base-url", "target": "--target", "seed": "--seed", "max_rps": "--max-rps",
             "max_in_flight": "--max-in-flight", "max_run_seconds": "--max-run-seconds", "ca_bundle": "--ca-bundle",
             "reports_dir": "--reports-dir"}
FLAGS = {"read_only": "--read-only", "insecure": "--insecure", "allow_http": "--allow-http",
         "embedded": "--embedded", "no_preflight": "--no-preflight", "strict": "--strict"}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="scimcert run", usage="scimcert run [options] [-- pytest options]",
        description="Run the SCIM conformance suite against SCIM_BASE_URL (or --base-url), or against the embedded "
                    "reference server when neither is set.",
        epilog="The bearer token is read from SCIM_TOKEN only. Exit status: 0 pass; 1 a MUST requirement failed (or "
               "nothing was judged); 2 interrupted; 4 usage or configuration error; 20-24 the preflight found the "
               "target set up wrong (README, \"Exit status\").")
    target = p.add_argument_group("target")
    target.add_argument("--base-url", metavar="URL", help="the SCIM base URL (SCIM_BASE_URL)")
    target.add_argument("--target", metavar="FILE", help="a TOML target file (never tokens)")
    target.add_argument("--embedded", action="store_true",
                        help="test the embedded reference server even where target settings are in the environment")
    target.add_argument("--org-domains", metavar="LIST", help="organization email domains (SCIM_ORG_DOMAINS)")
    target.add_argument("--guests", metavar="LIST", help="existing guests, userName or userName=id (SCIM_GUESTS)")
    target.add_argument("--user-domain", metavar="DOMAIN", help="domain of the users created (SCIM_USER_DOMAIN)")
    target.add_argument("--reactivation", choices=("supported", "refused"), help="SCIM_REACTIVATION")
    target.add_argument("--group-delete", choices=("supported", "refused"), help="SCIM_GROUP_DELETE")
    what = p.add_argument_group("what runs")
    what.add_argument("--idp", action="append", metavar="LIST", help="IdP profiles, comma-separated (SCIM_IDPS)")
    what.add_argument("--variant", action="append", default=[], metavar="[IDP.]STEP=NAME",
                      help="a step's variant, as the tenant sends it (repeatable)")
    what.add_argument("--seed", type=int, help="replay the test data of an earlier run")
    what.add_argument("--reference-fault", action="append", default=[], metavar="NAME",
                      help="a fault of the embedded reference server (demonstrations)")
    what.add_argument("--workers", "-n", metavar="N", help="parallel workers (pytest-xdist): a number or auto")
    what.add_argument("--strict", action="store_true", help="a violated SHOULD fails the run too")
    safety = p.add_argument_group("safety and limits")
    safety.add_argument("--read-only", action="store_true", help="send no write (SCIM_READ_ONLY)")
    safety.add_argument("--timeout", type=float, metavar="S", help="per-request timeout (SCIM_TIMEOUT)")
    safety.add_argument("--max-rps", type=float, metavar="R", help="at most R requests per second (SCIM_MAX_RPS)")
    safety.add_argument("--max-in-flight", type=int, metavar="N", help="at most N requests in flight (SCIM_MAX_IN_FLIGHT)")
    safety.add_argument("--max-run-seconds", type=float, metavar="S", help="bound of the whole run (SCIM_MAX_RUN_SECONDS)")
    safety.add_argument("--ca-bundle", metavar="PEM", help="CA certificates of the target (SCIM_CA_BUNDLE)")
    safety.add_argument("--insecure", action="store_true", help="do not verify the target's TLS certificate")
    safety.add_argument("--allow-http", action="store_true", help="accept plain http:// to a host that is not loopback")
    safety.add_argument("--no-preflight", action="store_true", help="skip the preflight before the checks")
    p.add_argument("--reports-dir", metavar="DIR", help="where reports are written (default reports/)")
    return p


def pytest_arguments(args: argparse.Namespace, passthrough: list[str]) -> list[str]:
    """The pytest command line `args` stand for."""
    argv = [str(SUITES), "-p", "scimcert.plugin", "-p", "no:cacheprovider", "-q"]
    for name, option in AS_OPTION.items():
        if getattr(args, name) is not None:
            argv += [option, str(getattr(args, name))]
    argv += [flag for name, flag in FLAGS.items() if getattr(args, name)]
    for given in args.idp or []:
        argv += ["--idp", given]
    for given in args.variant:
        argv += ["--variant", given]
    for given in args.reference_fault:
        argv += ["--reference-fault", given]
    if args.workers is not None:
        argv += ["-n", str(args.workers)]
    return argv + passthrough


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    passthrough = argv[argv.index("--") + 1:] if "--" in argv else []
    args = parser().parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    for name, variable in AS_ENVIRONMENT.items():
        if getattr(args, name) is not None:
            os.environ[variable] = str(getattr(args, name))
    import pytest

    return int(pytest.main(pytest_arguments(args, passthrough)))
