"""Memory of the reference server under a long stream of requests: its resident set size at the start and
at the end of at least 50,000 requests, and the difference.

    python bench/soak.py [--requests 50000] [--clients 8]

Starts the reference server in this process (what is measured is this process's RSS: the server's state, its
event loop and its thread pool), warms it up, then sends the requests from `--clients` threads over kept-alive
connections: a mix of list, filter, GET, POST, PATCH, PUT and DELETE (each created user is deleted again, so
the store ends as it began). Prints figures; asserts nothing (docs/reference-server.md, "Limits").
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from scimcert.reference import ReferenceServer  # noqa: E402

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def rss_kib() -> int:
    """This process's resident set size now (Linux /proc), in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cycle(c: httpx.Client, domain: str) -> int:
    """One round of seven requests a provisioning IdP sends; returns how many were sent."""
    name = f"soak.{uuid.uuid4().hex[:12]}@{domain}"
    c.get("/Users", params={"startIndex": 1, "count": 20})
    c.get("/Users", params={"filter": f'userName eq "{name}"'})
    created = c.post("/Users", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name,
                                     "name": {"givenName": "Soak", "familyName": "Test"},
                                     "emails": [{"value": name, "type": "work", "primary": True}]}).json()
    user_id = created["id"]
    c.patch(f"/Users/{user_id}", json={"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "path": "title", "value": "Soaked"}]})
    c.put(f"/Users/{user_id}", json={**{k: v for k, v in created.items() if k != "meta"}, "title": "Again"})
    c.get(f"/Users/{user_id}")
    c.delete(f"/Users/{user_id}")
    return 7


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    with ReferenceServer(seed_users=1_000) as server:
        domain = server.tenant.domains[0]
        headers = {"Authorization": f"Bearer {server.token}", "Content-Type": "application/scim+json"}
        clients = [httpx.Client(base_url=server.base_url, headers=headers, timeout=30) for _ in range(args.clients)]
        for c in clients:  # warm-up: imports, caches, connections, the thread pool
            for _ in range(20):
                cycle(c, domain)
        gc.collect()
        start_rss, started = rss_kib(), time.perf_counter()
        per_client = -(-args.requests // (7 * args.clients))
        with ThreadPoolExecutor(args.clients) as pool:
            sent = sum(pool.map(lambda c: sum(cycle(c, domain) for _ in range(per_client)), clients))
        wall = time.perf_counter() - started
        gc.collect()
        end_rss = rss_kib()
        for c in clients:
            c.close()
        users_left = len(server.state.store)
    print(f"requests: {sent} in {wall:.1f} s ({sent / wall:,.0f}/s, {args.clients} clients)")
    print(f"RSS at start: {start_rss / 1024:.1f} MiB")
    print(f"RSS at end:   {end_rss / 1024:.1f} MiB")
    print(f"difference:   {(end_rss - start_rss) / 1024:+.1f} MiB ({(end_rss - start_rss) / sent * 1024:+.1f} bytes/request)")
    print(f"users in the store at the end: {users_left} (1,000 seeded + the tenant's own)")


if __name__ == "__main__":
    main()
