"""The conformance suite against SCIM servers this project did not write, one after another.

    python bench/third_party.py [--servers scim2-server,scimmy,django-scim2] [--workdir DIR] [pytest args]

Installs each server into DIR (default: <tmp>/scimcert-peers; reused on the next run) from its package
registry, starts it on a free loopback port with a bearer token, runs `pytest suites` against it (all
three profiles), stops it, and prints the distinct defects of the run: what docs/third-party.md
triages. Needs `npm` for SCIMMY; prints figures and asserts nothing.

- scim2-server (python-scim): a dev dependency of this project;
- SCIMMY 1.3.5 with scimmy-routers 1.3.2 on express 4 (npm), with a small in-memory store;
- django-scim2 (PyPI) in a minimal Django project on SQLite, with a middleware mapping one bearer token
  to a service user (django-scim2 ships no authentication).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "third-party-token-0123456789"

SCIMMY_APP = """
import express from "express"; import SCIMMY from "scimmy"; import SCIMMYRouters from "scimmy-routers";
import {randomUUID} from "node:crypto";
const PORT = Number(process.env.PORT), TOKEN = process.env.SCIM_TOKEN;
const stores = {User: new Map(), Group: new Map()}, uniq = {User: "userName", Group: "displayName"};
const handlers = (kind) => { const store = stores[kind]; return {
  ingress: (res, inst) => { const now = new Date().toISOString(), key = uniq[kind];
    for (const [id, r] of store) if (id !== res.id && String(r[key]).toLowerCase() === String(inst[key]).toLowerCase())
      throw new SCIMMY.Types.Error(409, "uniqueness", `${key} already in use`);
    const old = res.id ? store.get(res.id) : null;
    if (res.id && !old) throw new SCIMMY.Types.Error(404, null, `Resource ${res.id} not found`);
    const id = res.id ?? randomUUID(), body = JSON.parse(JSON.stringify(inst)), plain = (x) => JSON.stringify({...x, id, meta: null});
    const same = old && plain(old) === plain(body);  // a write that changes nothing keeps its lastModified
    const r = {...body, id, meta: {created: old?.meta.created ?? now, lastModified: same ? old.meta.lastModified : now}};
    store.set(id, r); return r; },
  egress: (res) => { if (res.id) { const r = store.get(res.id);
      if (!r) throw new SCIMMY.Types.Error(404, null, `Resource ${res.id} not found`); return r; }
    const all = [...store.values()]; return res.filter ? res.filter.match(all) : all; },
  degress: (res) => { if (!store.delete(res.id)) throw new SCIMMY.Types.Error(404, null, `Resource ${res.id} not found`); },
}; };
SCIMMY.Resources.declare(SCIMMY.Resources.User, {...handlers("User"), extensions: [{schema: SCIMMY.Schemas.EnterpriseUser, required: false}]});
SCIMMY.Resources.declare(SCIMMY.Resources.Group, handlers("Group"));
SCIMMY.Config.set({patch: true, filter: true, sort: true});
const app = express();
app.use("/scim/v2", new SCIMMYRouters({type: "bearer", handler: (req) => {
  if (req.header("Authorization") !== `Bearer ${TOKEN}`) throw new Error("Authorization failure"); return "scim-client"; }}));
app.listen(PORT, "127.0.0.1");
"""

DJANGO_FILES = {
    "scimapp/__init__.py": "",
    "proj/__init__.py": "",
    "scimapp/models.py": """
from django.contrib.auth.models import AbstractUser
from django.db import models
from django_scim import models as scim_models
class ScimGroup(scim_models.AbstractSCIMGroupMixin):
    name = models.CharField('name', max_length=80, unique=True)
class ScimUser(scim_models.AbstractSCIMUserMixin, AbstractUser):
    scim_groups = models.ManyToManyField(ScimGroup, related_name="user_set")
""",
    "scimapp/auth.py": """
import os
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
class BearerTokenMiddleware:
    def __init__(self, get_response): self.get_response = get_response
    def __call__(self, request):
        request.user = AnonymousUser()
        if request.META.get("HTTP_AUTHORIZATION", "") == f"Bearer {os.environ['SCIM_TOKEN']}":
            request.user, _ = get_user_model().objects.get_or_create(username="__scim_service__")
        return self.get_response(request)
""",
    "proj/settings.py": """
import os
SECRET_KEY = "third-party-runs-only"; DEBUG = False; ALLOWED_HOSTS = ["*"]; USE_TZ = True
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "django_scim", "scimapp"]
MIDDLEWARE = ["scimapp.auth.BearerTokenMiddleware", "django_scim.middleware.SCIMAuthCheckMiddleware"]
ROOT_URLCONF = "proj.urls"; AUTH_USER_MODEL = "scimapp.ScimUser"; DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SCIM_SERVICE_PROVIDER = {"NETLOC": "127.0.0.1:" + os.environ.get("PORT", "8000"), "SCHEME": "http",
    "GROUP_MODEL": "scimapp.models.ScimGroup",
    "AUTHENTICATION_SCHEMES": [{"type": "oauthbearertoken", "name": "Bearer", "description": "static bearer token"}]}
""",
    "proj/urls.py": 'from django.urls import include, path\n'
                    'urlpatterns = [path("scim/v2/", include("django_scim.urls", namespace="scim"))]\n',
    "manage.py": 'import os, sys\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")\n'
                 'from django.core.management import execute_from_command_line\nexecute_from_command_line(sys.argv)\n',
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(command: list[str], cwd: Path | None = None) -> None:
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def scim2_server(workdir: Path, port: int) -> tuple[list[str], Path | None, str]:
    return [str(Path(sys.executable).parent / "scim2-server"), "--port", str(port), "--bearer-token", TOKEN], \
        None, f"http://127.0.0.1:{port}/v2"


def scimmy(workdir: Path, port: int) -> tuple[list[str], Path | None, str]:
    home = workdir / "scimmy"
    if not (home / "node_modules" / "scimmy-routers").is_dir():
        home.mkdir(parents=True, exist_ok=True)
        run(["npm", "init", "-y"], home)
        run(["npm", "install", "scimmy@1.3.5", "scimmy-routers@1.3.2", "express@4"], home)  # not express 5
    (home / "app.mjs").write_text(SCIMMY_APP)
    return ["node", "app.mjs"], home, f"http://127.0.0.1:{port}/scim/v2"


def django_scim2(workdir: Path, port: int) -> tuple[list[str], Path | None, str]:
    home, venv = workdir / "django", workdir / "venv-django"
    if not (venv / "bin" / "python").exists():
        run([sys.executable, "-m", "venv", str(venv)])
        run([str(venv / "bin" / "pip"), "install", "-q", "django-scim2", "django"])
    shutil.rmtree(home, ignore_errors=True)
    for name, text in DJANGO_FILES.items():
        (home / name).parent.mkdir(parents=True, exist_ok=True)
        (home / name).write_text(text.lstrip("\n"))
    python = str(venv / "bin" / "python")
    run([python, "manage.py", "makemigrations", "scimapp"], home)
    run([python, "manage.py", "migrate"], home)
    return [python, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"], home, \
        f"http://127.0.0.1:{port}/scim/v2"


SERVERS = {"scim2-server": scim2_server, "scimmy": scimmy, "django-scim2": django_scim2}


def versions(name: str, workdir: Path) -> str:
    if name == "scim2-server":
        from importlib import metadata
        return f"scim2-server {metadata.version('scim2-server')}"
    if name == "scimmy":
        lock = json.loads((workdir / "scimmy" / "package-lock.json").read_text())["packages"]
        return ", ".join(f"{p} {lock[f'node_modules/{p}']['version']}" for p in ("scimmy", "scimmy-routers", "express"))
    pip = workdir / "venv-django" / "bin" / "pip"
    listed = subprocess.run([str(pip), "list", "--format=json"], capture_output=True, text=True).stdout
    found = {p["name"].lower(): p["version"] for p in json.loads(listed)}
    return f"django-scim2 {found.get('django-scim2')}, Django {found.get('django')}"


def against(name: str, workdir: Path, extra: list[str]) -> dict:
    port = free_port()
    command, cwd, base = SERVERS[name](workdir, port)
    environment = {**os.environ, "PORT": str(port), "SCIM_TOKEN": TOKEN}
    server = subprocess.Popen(command, cwd=cwd, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(base + "/Users", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        reports = workdir / "reports" / name
        shutil.rmtree(reports, ignore_errors=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SCIM_", "PYTEST_"))}
        started = time.perf_counter()
        finished = subprocess.run([sys.executable, "-m", "pytest", "suites", "-q", "-p", "no:cacheprovider",
                                   "--reports-dir", str(reports), *extra], cwd=ROOT, capture_output=True, text=True,
                                  env={**env, "SCIM_BASE_URL": base, "SCIM_TOKEN": TOKEN})
        seconds = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=10)
    document = json.loads((reports / "conformance.json").read_text())
    return {"server": name, "versions": versions(name, workdir), "exit": finished.returncode,
            "seconds": round(seconds, 1), "summary": document["summary"], "defects": document["defects"],
            "reports": str(reports)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", default=",".join(SERVERS), help="comma-separated: " + ", ".join(SERVERS))
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "scimcert-peers")
    args, extra = parser.parse_known_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    for name in args.servers.split(","):
        if name == "scimmy" and shutil.which("npm") is None:
            print(f"{name}: skipped (npm is not installed)")
            continue
        result = against(name, args.workdir, extra)
        summary = result["summary"]
        print(f"\n{name} ({result['versions']}): exit {result['exit']}, {result['seconds']} s, "
              f"{summary['mustFailed']} MUST requirement(s) failed, {summary['requirements']['warning']} warned, "
              f"{summary['defects']} distinct defect(s); reports in {result['reports']}")
        for defect in result["defects"]:
            what = defect["cause"] if defect["automatic"] else f"{defect['example']['message']} ({defect['cause']})"
            print(f"  {defect['outcome']:<7} {defect['requirement']} [{defect['level']}] {', '.join(defect['idps'])}: "
                  f"{what}")


if __name__ == "__main__":
    main()
