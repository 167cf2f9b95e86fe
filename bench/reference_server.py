"""Benchmark of the embedded reference server: does the cost of a request grow with the store?

    python bench/reference_server.py [--sizes 1000,100000] [--requests 200] [--warmup 20]

For each store size it seeds `ReferenceServer(seed_users=N)` (timed), then over real HTTP on
127.0.0.1 with one keep-alive httpx client measures, each over `--requests` requests after a
warm-up, the median and the p99 of:

* `GET /Users?filter=userName eq "<an existing user, in another letter case>"` (a different user each time)
* `GET /Users?startIndex=1&count=100`, `N/2`, `N-99` (pages at the start, middle and end)
* `GET /Users/{id}`, `POST /Users`, `PUT /Users/{id}`, `PATCH /Users/{id}` (a different user each time)
* filters the userName index cannot answer, which the filter index does (over 1/10 of the requests, 10 a page,
  every match counted): `eq` on a sub-attribute, `co`, `pr`, `externalId eq`, `userName sw`, `active eq true`,
  a dateTime `gt` and `sw`, a multi-valued `co`, a value filter every user matches and one a few match, `or` of
  two `eq`s, and `not (...)`; "(all)" marks those every user matches

and prints them per size, side by side, one line per figure, with the ratio of the medians. Numbers
only, no assertions.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scimcert.reference import ReferenceServer  # noqa: E402

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@dataclass
class Timing:
    median_ms: float
    p99_ms: float
    requests: int


def measure(call: Callable[[int], httpx.Response], requests: int, warmup: int) -> Timing:
    for i in range(warmup):
        _ok(call(i))
    samples = []
    for i in range(requests):
        start = time.perf_counter()
        response = call(warmup + i)
        samples.append((time.perf_counter() - start) * 1000)
        _ok(response)
    p99 = statistics.quantiles(samples, n=100)[98] if len(samples) >= 100 else max(samples)
    return Timing(statistics.median(samples), p99, len(samples))


def _ok(response: httpx.Response) -> None:
    if response.status_code not in (200, 201):
        raise SystemExit(f"unexpected {response.status_code} for {response.request.url}: {response.text[:300]}")


def sample_users(client: httpx.Client, size: int) -> list[dict]:
    """About 300 users spread over the store: the first, middle and last pages."""
    users: list[dict] = []
    for start in sorted({1, max(1, size // 2 - 50), max(1, size - 99)}):
        users += client.get("/Users", params={"startIndex": start, "count": 100}).json()["Resources"]
    return users


def other_case(user_name: str) -> str:
    """The same userName in another letter case: `Ada.Lovelace@example.com` -> `aDA.lOVELACE@EXAMPLE.COM`."""
    flipped = user_name.swapcase()
    return flipped if flipped != user_name else user_name.upper()


def run(size: int, requests: int, warmup: int) -> dict[str, Timing | float]:
    print(f"seeding {size:,} users ...", file=sys.stderr, flush=True)
    start = time.perf_counter()
    server = ReferenceServer(seed_users=size)
    seeding = time.perf_counter() - start
    results: dict[str, Timing | float] = {"seeding (s)": seeding}
    with server, httpx.Client(base_url=server.base_url, timeout=60,
                              headers={"Authorization": f"Bearer {server.token}",
                                       "Accept": "application/scim+json"}) as client:
        total = client.get("/Users", params={"count": 0}).json()["totalResults"]
        users = sample_users(client, total)
        names = [other_case(u["userName"]) for u in users]
        ids = [u["id"] for u in users]
        client.headers["Content-Type"] = "application/scim+json"
        families = [u["name"]["familyName"] for u in users if u.get("name", {}).get("familyName")]
        givens = [u["name"]["givenName"] for u in users if u.get("name", {}).get("givenName")]
        middle, last = max(1, total // 2), max(1, total - 99)

        scenarios: dict[str, tuple[Callable[[int], httpx.Response], int]] = {
            'filter userName eq "<other case>"': (
                lambda i: client.get("/Users", params={"filter": f'userName eq "{names[i % len(names)]}"'}), requests),
            "page startIndex=1 count=100": (
                lambda i: client.get("/Users", params={"startIndex": 1, "count": 100}), requests),
            "page startIndex=N/2 count=100": (
                lambda i: client.get("/Users", params={"startIndex": middle, "count": 100}), requests),
            "page startIndex=N-99 count=100": (
                lambda i: client.get("/Users", params={"startIndex": last, "count": 100}), requests),
            "GET /Users/{id}": (lambda i: client.get(f"/Users/{ids[i % len(ids)]}"), requests),
            "POST /Users": (lambda i: client.post("/Users", json={
                "schemas": [CORE], "userName": f"bench.{size}.{i}@example.com",
                "name": {"givenName": "Bench", "familyName": f"User{i}"}}), requests),
            "PUT /Users/{id}": (lambda i: client.put(f"/Users/{ids[i % len(ids)]}", json={
                "schemas": [CORE], "userName": users[i % len(users)]["userName"],
                "name": {"givenName": "Put", "familyName": f"Family{i}"}, "title": f"Title {i}"}), requests),
            "PATCH /Users/{id}": (lambda i: client.patch(f"/Users/{ids[i % len(ids)]}", json={
                "schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": f"T{i}"}]}), requests),
        }
        filters = {
            "filter: name.familyName eq": lambda i: f'name.familyName eq "{families[i % len(families)]}"',
            "filter: title co": lambda i: f'title co "{i}"',
            "filter: externalId pr": lambda i: "externalId pr",
            "filter: externalId eq": lambda i: f'externalId eq "x{i}"',
            "filter: userName sw": lambda i: f'userName sw "{names[i % len(names)][:4]}"',
            "filter: active eq true (all)": lambda i: "active eq true",
            "filter: meta.lastModified gt (all)": lambda i: 'meta.lastModified gt "2020-01-01T00:00:00Z"',
            "filter: meta.created sw (all)": lambda i: 'meta.created sw "20"',
            "filter: emails.value co (all)": lambda i: 'emails.value co "@"',
            "filter: emails[type eq, value ew] (all)": lambda i: 'emails[type eq "work" and value ew ".com"]',
            "filter: emails[type eq, value sw] (few)": lambda i: f'emails[type eq "work" and value sw "{names[i % len(names)]}"]',
            "filter: familyName eq or givenName eq": lambda i: f'name.familyName eq "{families[i % len(families)]}" '
                                                              f'or name.givenName eq "{givens[i % len(givens)]}"',
            "filter: not (familyName eq)": lambda i: f'not (name.familyName eq "{families[i % len(families)]}")',
        }
        for label, expression in filters.items():
            scenarios[label] = ((lambda e: lambda i: client.get("/Users", params={"filter": e(i), "count": 10}))(expression),
                                max(10, requests // 10))
        for label, (call, n) in scenarios.items():
            print(f"  {size:>7,}  {label} x{n}", file=sys.stderr, flush=True)
            gc.collect()
            results[label] = measure(call, n, warmup=min(warmup, max(1, n // 5)))
        results["checks"] = (total, server.state.peak_in_flight)
    del server
    gc.collect()
    return results


def table(sizes: list[int], runs: list[dict]) -> str:
    a, b = sizes[0], sizes[-1]
    head = (f"{'':40} {f'{a:,} users':>19} {f'{b:,} users':>19} {'ratio':>7}\n"
            f"{'':40} {'median':>9} {'p99':>9} {'median':>9} {'p99':>9} {'median':>7}")
    lines = [head, "-" * len(head.splitlines()[1])]
    first, second = runs[0], runs[-1]
    for label in first:
        if label in ("checks",):
            continue
        x, y = first[label], second[label]
        if isinstance(x, float):
            lines.append(f"{label:40} {x:>9.2f} {'':>9} {y:>9.2f} {'':>9} {y / x:>7.1f}")
        else:
            lines.append(f"{label:40} {x.median_ms:>9.2f} {x.p99_ms:>9.2f} {y.median_ms:>9.2f} {y.p99_ms:>9.2f}"
                         f" {y.median_ms / x.median_ms:>7.2f}")
    lines.append("(request times in ms over one keep-alive connection; seeding in s; ratio = larger / smaller store;\n"
                 " a filter counts every match for totalResults and returns 10)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1000,100000", help="comma-separated store sizes (default 1000,100000)")
    p.add_argument("--requests", type=int, default=200, help="timed requests per scenario (default 200)")
    p.add_argument("--warmup", type=int, default=20, help="untimed requests before each scenario (default 20)")
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    started = time.perf_counter()
    runs = [run(size, args.requests, args.warmup) for size in sizes]
    print(table(sizes, runs))
    for size, result in zip(sizes, runs, strict=True):
        total, peak = result["checks"]
        print(f"store of {size:,}: totalResults {total:,} (seeded + the tenant's own user)")
    print(f"total wall time {time.perf_counter() - started:.1f} s "
          f"(Python {sys.version.split()[0]}, httpx {httpx.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
