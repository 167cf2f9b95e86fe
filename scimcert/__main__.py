"""`python -m scimcert COMMAND [options]`, also installed as the `scimcert` command.

Commands (each module has a `main(argv) -> exit status`; `scimcert COMMAND --help` for its options):
    run           run the conformance suite (scimcert/launch.py)
    sweep         remove the users earlier runs left behind (scimcert/sweep.py)
    requirements  list the requirement catalogue (scimcert/requirements.py)
    reference     serve the reference SCIM server (scimcert/reference/__main__.py)
    verify        check a report's certificate (scimcert/certificate.py)
"""

from __future__ import annotations

import importlib
import sys

from . import __version__

COMMANDS = {"run": ("scimcert.launch", "run the conformance suite (the embedded reference server without a target)"),
            "sweep": ("scimcert.sweep", "remove the users earlier runs left behind"),
            "requirements": ("scimcert.requirements", "list the requirement catalogue"),
            "reference": ("scimcert.reference.__main__", "serve the reference SCIM server on 127.0.0.1"),
            "verify": ("scimcert.certificate", "check a conformance.json's certificate (digests of report and catalogue)")}


def usage() -> str:
    lines = ["usage: scimcert COMMAND [options]   (scimcert COMMAND --help for its options; scimcert --version)",
             "", "commands:"]
    return "\n".join(lines + [f"  {name:<13} {summary}" for name, (_, summary) in COMMANDS.items()])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        print(f"scimcert {__version__}")
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"scimcert: unknown command {command!r}\n{usage()}", file=sys.stderr)
        return 2
    return importlib.import_module(COMMANDS[command][0]).main(rest)


if __name__ == "__main__":
    sys.exit(main())
