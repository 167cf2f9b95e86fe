"""`scimcert reference --port 0 --tenant fixtures/tenant.json [--fault NAME ...]` (also `python -m scimcert.reference`)

Serves the reference SCIM server on 127.0.0.1 and prints its base URL. Never prints tokens.
"""

from __future__ import annotations

import argparse
import sys

from ..paths import DEFAULT_TENANT
from .app import create_app
from .chaos import Chaos
from .faults import FAULTS, layers_for
from .server import bind, uvicorn_server
from .tenant import Tenant, TenantError


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="scimcert reference", description=__doc__.splitlines()[2])
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default)")
    p.add_argument("--tenant", default=str(DEFAULT_TENANT), help="tenant file (schemas/tenant.schema.json)")
    p.add_argument("--base-path", default="/scim/v2", help="path the SCIM endpoints hang off (default /scim/v2)")
    p.add_argument("--seed-users", type=int, default=0, metavar="N", help="generate N ordinary users")
    p.add_argument("--fault", action="append", default=[], metavar="NAME", help="enable a fault (repeatable)")
    p.add_argument("--list-faults", action="store_true", help="list the faults and exit")
    chaos = p.add_argument_group("chaos")
    chaos.add_argument("--latency-ms", type=float, default=0.0, help="delay every response")
    chaos.add_argument("--rate-limit", type=float, default=0.0, metavar="RPS", help="answer 429 beyond RPS requests/s")
    chaos.add_argument("--retry-after", type=int, default=1, metavar="S", help="Retry-After seconds on 429")
    chaos.add_argument("--error-rate", type=float, default=0.0, metavar="P", help="probability of a 500")
    chaos.add_argument("--reset-rate", type=float, default=0.0, metavar="P", help="probability of a dropped connection")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.list_faults:
        for fault in sorted(FAULTS.values(), key=lambda f: (f.capability, f.name)):
            print(f"{fault.capability:<11} {fault.name:<36} {fault.description}")
        return 0
    try:
        tenant = Tenant.load(args.tenant)
        layers = layers_for(args.fault)
    except (TenantError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    chaos = Chaos(args.latency_ms, args.rate_limit, args.retry_after, args.error_rate, args.reset_rate)
    if chaos.active:
        layers.insert(0, chaos)
    app = create_app(tenant, base_path=args.base_path, layers=layers, seed_users=args.seed_users)
    sock = bind(args.host, args.port)
    host, port = sock.getsockname()[:2]
    print(f"Serving SCIM on http://{host}:{port}{app.state.base_path}", flush=True)
    if args.fault:
        print(f"Faults enabled: {', '.join(args.fault)}", flush=True)
    uvicorn_server(app).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
