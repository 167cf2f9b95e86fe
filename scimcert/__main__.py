"""`python -m scimcert COMMAND [options]`, also installed as the `scimcert` command.

Commands (each module has a `main(argv) -> exit status`; `scimcert COMMAND --help` for its options):
    sweep   remove the users earlier runs left behind (scimcert/sweep.py)
"""

from __future__ import annotations

import importlib
import sys

COMMANDS = {"sweep": ("scimcert.sweep", "remove the users earlier runs left behind")}


def usage() -> str:
    lines = ["usage: scimcert COMMAND [options]   (scimcert COMMAND --help for its options)", "", "commands:"]
    return "\n".join(lines + [f"  {name:<8} {summary}" for name, (_, summary) in COMMANDS.items()])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"scimcert: unknown command {command!r}\n{usage()}", file=sys.stderr)
        return 2
    return importlib.import_module(COMMANDS[command][0]).main(rest)


if __name__ == "__main__":
    sys.exit(main())
