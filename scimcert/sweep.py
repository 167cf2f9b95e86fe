"""`scimcert sweep`: remove the users and groups earlier runs left behind (a run killed by SIGKILL, a machine that died).

    scimcert sweep [--base-url URL] [--target FILE] [--ledger FILE | --run-tag TAG] [--older-than AGE]
                   [--force] [--dry-run] [--timeout S]

Every user the suite creates has a userName starting with "Scimcert.<run tag>." (scimcert/data.py),
and is written to the run's ledger (`reports/ledger-<tag>.jsonl`, scimcert/ledger.py) before the
create is sent. The sweep lists candidates with `filter=userName sw "Scimcert.<tag>."` (or, when the
endpoint refuses that filter, by walking every page of GET /Users), checks each userName itself, and
removes each user as a run's own cleanup does (scimcert/cleanup.py `remove_user`: DELETE, else
deactivate). A user whose userName does not start with the prefix is never touched. Groups go the same way,
first (resources.REMOVAL_ORDER): a displayName starting with the prefix, listed with `displayName sw`, removed
by `remove_group` (DELETE, else their members are taken out and they are reported left); a target with no
/Groups endpoint (404, 501) has none.

Which users: with --ledger, exactly those the ledger names (a ledger userName outside the prefix is
looked up with `userName eq`); with --run-tag, that run's; with neither, every run's users created
more than --older-than ago (default 1 hour, from meta.created), so that a run still going on the same
tenant keeps its users. A user whose age the target does not tell is removed only with --force. The
token comes only from SCIM_TOKEN.

Exit status: 0 nothing is left active that was to be removed; 1 a user could not be removed, the
listing could not be completed, or users of unknown age were spared (without --force); 2 usage or
configuration error.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from . import config as config_module
from . import ledger as ledger_module
from .cleanup import REMOVERS, look_up, named
from .client import ScimClient
from .data import user_name_prefix
from .profiles import ProfileError, profiles
from .redact import Redactor
from .resources import GROUP, REMOVAL_ORDER, USER, ResourceType

PAGE = 100
MAX_PAGES = 10_000  # a million users: a walk that long is a server that never says it is done
TAG = re.compile(r"^[A-Za-z0-9]+$")
AGE = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")
SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
DEFAULT_AGE = 3600.0  # seconds: no test run lasts an hour (runs are bounded by max_run_seconds, 30 min)


def age(text: str) -> float:
    """An --older-than value in seconds: a number with an optional unit s, m, h or d."""
    found = AGE.match(text.strip())
    if not found:
        raise argparse.ArgumentTypeError(f"expected a number with an optional unit s, m, h or d (e.g. 2h), got {text!r}")
    return float(found.group(1)) * SECONDS[found.group(2)]


def created_at(user: dict) -> datetime | None:
    """meta.created as an aware datetime (a zone-less one is taken as UTC); None when absent or unreadable."""
    meta = user.get("meta")
    text = meta.get("created") if isinstance(meta, dict) else None
    try:
        moment = datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment is not None and moment.tzinfo is None else moment


def spoken(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}".replace(".0 ", " ")
    return f"{seconds:.0f} s"


@dataclass
class Listing:
    """The candidates found (users or groups), and why the listing stopped early (None: it was complete)."""

    resources: list[dict] = field(default_factory=list)
    problem: str | None = None
    refused: int | None = None  # the HTTP status of a first page that was not 200
    notes: list[str] = field(default_factory=list)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="scimcert sweep",
        description="Remove the users and groups earlier scimcert runs left behind (names starting with 'Scimcert.').",
        epilog="The bearer token is read from SCIM_TOKEN only. Exit status: 0 nothing is left active that was to "
               "be removed; 1 a user could not be removed, the listing was incomplete, or users of unknown age were "
               "spared (without --force); 2 usage or configuration error.")
    p.add_argument("--base-url", metavar="URL", help="the SCIM base URL (default: SCIM_BASE_URL)")
    p.add_argument("--target", metavar="FILE", help="a TOML target file (tokens are refused there)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--ledger", metavar="FILE", type=Path,
                       help="exactly the users a run's ledger names (reports/ledger-<tag>.jsonl of a killed run)")
    which.add_argument("--run-tag", metavar="TAG", help="only the users of the run with this tag (Scimcert.TAG.…)")
    p.add_argument("--older-than", metavar="AGE", type=age,
                   help="only users created more than AGE ago (meta.created), e.g. 90s, 30m, 2h, 1d; default 1h "
                        "without --ledger or --run-tag, so a run still going on the tenant keeps its users")
    p.add_argument("--force", action="store_true",
                   help="also remove users whose age the target does not tell (no meta.created)")
    p.add_argument("--dry-run", action="store_true", help="list what would be removed; change nothing")
    p.add_argument("--timeout", type=float, metavar="S",
                   help=f"per-request timeout in seconds (default: SCIM_TIMEOUT, else {config_module.DEFAULT_TIMEOUT:g})")
    p.add_argument("--ca-bundle", metavar="PEM", help="CA certificates that sign the target's TLS certificate")
    p.add_argument("--insecure", action="store_true", help="do not verify the target's TLS certificate")
    p.add_argument("--max-rps", type=float, metavar="R", help="at most R requests per second")
    p.add_argument("--allow-http", action="store_true",
                   help="accept plain http:// to a host that is not loopback (the token crosses the network in clear)")
    return p


def load_target(args: argparse.Namespace, env: Mapping[str, str]) -> config_module.Target:
    """The target from the target file, the environment and the options (config.load); ConfigError if unusable."""
    given = {"base_url": args.base_url, "timeout": args.timeout, "ca_bundle": args.ca_bundle,
             "verify_tls": False if args.insecure else None, "allow_http": args.allow_http or None,
             "max_rps": args.max_rps}
    options = {k: v for k, v in given.items() if v is not None}
    try:  # config.load validates the whole target as a run sees it, IdP profiles included
        available = tuple(profiles())
    except ProfileError as exc:
        raise config_module.ConfigError(str(exc)) from exc
    settings, secrets = config_module.load(toml=args.target, env=env, options=options, available_idps=available)
    if settings.embedded:
        raise config_module.ConfigError("no target: set SCIM_BASE_URL (or --base-url, or base_url in --target)")
    if not secrets.get("token"):
        raise config_module.ConfigError("SCIM_TOKEN is not set: the bearer token comes from the environment")
    return config_module.target(settings, secrets)


def _page(client: ScimClient, resource_type: ResourceType, query: str, start: int, listing: Listing, seen: set[str],
          keep: Callable[[dict], bool]) -> int | None:
    """Fetch one page at `start`; add the resources `keep` accepts. The next startIndex, or None when done
    (or stopped: `listing.problem` then says why)."""
    page = client.raw("GET", resource_type.path(), query=f"{query}startIndex={start}&count={PAGE}", label="sweep (list)")
    if page.status != 200:
        if start == 1:
            listing.refused = page.status
        listing.problem = f"GET {resource_type.path()} answered {page.status or page.error} at startIndex {start}"
        return None
    body = page.json
    total = body.get("totalResults") if isinstance(body, dict) else None
    if not isinstance(total, int) or isinstance(total, bool):
        what = "not JSON" if not page.is_json else "not a ListResponse with an integer totalResults"
        listing.problem = f"the page at startIndex {start} is {what}"
        return None
    resources = body.get("Resources", [] if total < start else None)
    if not isinstance(resources, list):
        listing.problem = f"the page at startIndex {start} has no Resources list although totalResults is {total}"
        return None
    fresh = 0
    for user in resources:
        user_id = user.get("id") if isinstance(user, dict) else None
        key = str(user_id) if isinstance(user_id, (str, int)) else repr(user)
        if key in seen:
            continue
        seen.add(key)
        fresh += 1
        if keep(user):
            listing.resources.append(user)
    if start > total:
        return None
    if fresh == 0:
        listing.problem = (f"no progress: the page at startIndex {start} brought no new {resource_type.name.lower()} "
                           f"although totalResults is {total}")
        return None
    return None if start + len(resources) > total else start + len(resources)


def _walk(client: ScimClient, resource_type: ResourceType, query: str, keep: Callable[[dict], bool],
          listing: Listing) -> None:
    seen: set[str] = set()
    start: int | None = 1
    for _ in range(MAX_PAGES):
        start = _page(client, resource_type, query, start, listing, seen, keep)
        if start is None:
            return
    listing.problem = f"stopped after {MAX_PAGES} pages"


def find(client: ScimClient, prefix: str, resource_type: ResourceType = USER) -> Listing:
    """Users (or groups) whose userName (displayName) starts with `prefix` (case-insensitively): by the filter
    `userName sw`, else (the filter refused with a 4xx) by walking every page. Each candidate's name is checked
    here, whatever the filter returned. A target without the groups endpoint (404, 501) has no group."""
    def keep(resource: dict) -> bool:
        name = resource.get(resource_type.key)
        return isinstance(name, str) and name.lower().startswith(prefix.lower())

    expression = f'{resource_type.key} sw "{prefix}"'
    listing = Listing()
    _walk(client, resource_type, f"filter={quote(expression, safe='')}&", keep, listing)
    if listing.refused in (401, 403):
        listing.problem = f"the endpoint refused the token: {listing.problem}"
    elif listing.refused is not None and 400 <= listing.refused < 500 and listing.refused != 429:
        listing = Listing(notes=[f"the filter {expression} was refused ({listing.refused}): "
                                 f"walking every page of GET {resource_type.path()} instead"])
        _walk(client, resource_type, "", keep, listing)
    if resource_type is GROUP and listing.refused in (404, 501):
        return Listing(notes=[f"the target has no groups (GET /Groups answered {listing.refused})"])
    return listing


def find_ledger(client: ScimClient, entries: ledger_module.Entries, resource_type: ResourceType = USER) -> Listing:
    """Exactly the users (or groups) a ledger names: its runs' prefixed ones whose name it lists, and each listed
    userName outside those prefixes looked up with `userName eq` (a group's displayName always has the prefix)."""
    names = entries.user_names if resource_type is USER else entries.display_names
    wanted = {name.casefold() for name in names}
    prefixes = tuple(user_name_prefix(tag).casefold() for tag in entries.tags)
    listing, seen = Listing(), set()

    def add(found: list[dict]) -> None:
        for resource in found:
            key = str(resource.get("id"))
            if str(resource.get(resource_type.key, "")).casefold() in wanted and key not in seen:
                seen.add(key)
                listing.resources.append(resource)

    for tag in entries.tags if wanted else ():
        part = find(client, user_name_prefix(tag), resource_type)
        add(part.resources)
        listing.notes += part.notes
        listing.problem = listing.problem or part.problem
    for name in (n for n in names if resource_type is USER and not n.casefold().startswith(prefixes)):
        answer = look_up(client, name, label="sweep (ledger lookup)")
        if answer.status != 200:
            listing.problem = listing.problem or f"the lookup of {name} answered {answer.status or answer.error}"
        add(named(answer, name))
    return listing


def _age_rule(args: argparse.Namespace) -> float | None:
    """Seconds a user must have existed to be swept; None: any age (an explicit ledger or run tag)."""
    if args.older_than is not None:
        return args.older_than
    return None if args.ledger or args.run_tag else DEFAULT_AGE


def _spared(user: dict, older_than: float | None, force: bool) -> tuple[str | None, bool]:
    """(why the user is spared, or None; whether its age is unknown)."""
    if older_than is None:
        return None, False
    created = created_at(user)
    if created is None:
        return (None if force else "age unknown (no meta.created): spared; --force removes it"), True
    lived = (datetime.now(timezone.utc) - created).total_seconds()
    if lived < older_than:
        return f"created {spoken(max(lived, 0))} ago: spared (newer than --older-than {spoken(older_than)})", False
    return None, False


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    env = os.environ
    redact = Redactor([env.get("SCIM_TOKEN", ""), env.get("SCIM_REVOKED_TOKEN", "")])

    def say(text: str, stream=sys.stdout) -> None:
        print(redact(text), file=stream, flush=True)

    if args.run_tag is not None and not TAG.match(args.run_tag):
        say(f"error: --run-tag must be letters and digits (a run's tag, e.g. 3f9a1c), got {args.run_tag!r}", sys.stderr)
        return 2
    entries = None
    if args.ledger is not None:
        try:
            entries = ledger_module.read(args.ledger)
        except OSError as exc:
            say(f"error: cannot read the ledger {args.ledger}: {exc.strerror or exc}", sys.stderr)
            return 2
        if not (entries.user_names or entries.display_names) or not all(TAG.match(tag) for tag in entries.tags):
            say(f"error: {args.ledger} is not a scimcert ledger naming users (reports/ledger-<tag>.jsonl)", sys.stderr)
            return 2
    try:
        target = load_target(args, env)
    except config_module.ConfigError as exc:
        say(f"error: {exc}", sys.stderr)
        return 2
    if target.read_only and not args.dry_run:
        say("error: the target is configured read-only (SCIM_READ_ONLY): only --dry-run is possible", sys.stderr)
        return 2
    older_than = _age_rule(args)
    prefix = user_name_prefix(args.run_tag)
    shared = Path(tempfile.mkdtemp(prefix="scimcert-sweep-"))  # --max-rps / --max-in-flight lock files
    client = ScimClient.for_target(target, redact, shared_dir=shared)
    counts = {"deleted": 0, "deactivated": 0, "left": 0, "spared": 0, "unknown age": 0}
    try:
        which = (f"the {len(entries.user_names)} user(s) and {len(entries.display_names)} group(s) named in "
                 f"{args.ledger}" if entries is not None else f"users and groups whose name starts with {prefix!r}")
        say(f"sweeping {which} on {target.base_url}"
            + (f", created more than {spoken(older_than)} ago" if older_than is not None else "")
            + (" (dry run: nothing is changed)" if args.dry_run else ""))
        listings = {t: find_ledger(client, entries, t) if entries is not None else find(client, prefix, t)
                    for t in REMOVAL_ORDER}  # groups first: a target may refuse to delete a member's user
        for note in (note for listing in listings.values() for note in listing.notes):
            say(f"note: {note}", sys.stderr)
        for resource_type, listing in listings.items():
            for found in listing.resources:
                found_id = found.get("id")
                shown = ("" if resource_type is USER else "group ") + f"{found.get(resource_type.key)}  id {found_id}"
                spared, unknown_age = _spared(found, older_than, args.force)
                if spared is not None:
                    counts["unknown age" if unknown_age else "spared"] += 1
                    say(f"{shown}  {spared}")
                elif not isinstance(found_id, (str, int)) or str(found_id) == "":
                    counts["left"] += 1
                    say(f"{shown}  left: no id to address it by")
                elif args.dry_run:
                    say(f"{shown}  would be removed")
                else:
                    removal = REMOVERS[resource_type](client, str(found_id), label="sweep")
                    counts["deleted" if removal.removed else removal.outcome] += 1
                    say(f"{shown}  {removal.state}")
    finally:
        client.close()
        shutil.rmtree(shared, ignore_errors=True)
    problem = next((listing.problem for listing in listings.values() if listing.problem), None)
    if problem:
        say(f"warning: the listing stopped early, so users or groups may remain that were not found: {problem}",
            sys.stderr)
    found = sum(len(listing.resources) for listing in listings.values())
    kept = "".join(f", {label} {counts[label]}" for label in ("spared", "unknown age") if counts[label])
    if args.dry_run:
        removable = found - counts["left"] - counts["spared"] - counts["unknown age"]
        say(f"found {found}, would remove {removable}{kept} (dry run: nothing was changed)")
    else:
        say(f"found {found}, deleted {counts['deleted']}, deactivated {counts['deactivated']}, left {counts['left']}{kept}")
    if counts["unknown age"]:
        say(f"{counts['unknown age']} user(s) of unknown age were spared: the target gives no meta.created; "
            "check they belong to no run in progress, then sweep again with --force", sys.stderr)
    return 1 if counts["left"] or problem or counts["unknown age"] else 0
