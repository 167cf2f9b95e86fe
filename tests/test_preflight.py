"""Setup mistakes are not conformance failures: the preflight ends a run against a target set up wrong within
seconds, with one line naming the setting to fix and an exit code of its own, and no report blaming the
server; configuration mistakes are usage errors, never a green run against the wrong target."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import pytest
from suite_runs import ROOT, external, run_suite

from scimcert.preflight import BASE_PATH, EXIT_CODES, SILENT, TLS, TOKEN, UNREACHABLE
from scimcert.reference import ReferenceServer

QUICK = "suites/test_token.py"  # a few seconds of checks, for the runs that go past the preflight


@pytest.fixture(scope="module")
def server():
    with ReferenceServer() as running:
        yield running


@pytest.fixture(scope="module")
def silent_port():
    """A port that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield listener.getsockname()[1]
    listener.close()


def closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


CASES = {  # name → (how the environment is wrong, the exit code, what the line names)
    "wrong token": (lambda s, p: external(s, SCIM_TOKEN="not-the-tenant-token"), TOKEN, "SCIM_TOKEN"),
    "unreachable host": (lambda s, p: external(s, SCIM_BASE_URL=f"http://127.0.0.1:{closed_port()}/scim/v2"),
                         UNREACHABLE, "host and port of SCIM_BASE_URL"),
    "unknown host": (lambda s, p: external(s, SCIM_BASE_URL="https://scimcert-no-such-host.invalid/scim/v2"),
                     UNREACHABLE, "host of SCIM_BASE_URL"),
    "https to plain http": (lambda s, p: external(s, SCIM_BASE_URL=s.base_url.replace("http://", "https://")),
                            TLS, "scheme of SCIM_BASE_URL"),
    "never answers": (lambda s, p: external(s, SCIM_BASE_URL=f"http://127.0.0.1:{p}/scim/v2"), SILENT,
                      "SCIM_BASE_URL"),
    "wrong base path": (lambda s, p: external(s, SCIM_BASE_URL=s.base_url.replace("/scim/v2", "/api/v1")),
                        BASE_PATH, "path of SCIM_BASE_URL"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_target_set_up_wrong_ends_in_seconds_with_one_line_and_its_exit_code(tmp_path, server, silent_port, case):
    environment, code, setting = CASES[case]
    started = time.monotonic()
    run = run_suite(tmp_path, env=environment(server, silent_port), timeout=120)
    took = time.monotonic() - started
    assert took < 15, f"{case}: {took:.1f} s"
    assert run.returncode == code, run.stdout[-2000:] + run.stderr[-2000:]
    problems = [line for line in run.stdout.splitlines() if line.startswith("scimcert preflight: ")]
    assert len(problems) == 1 and setting in problems[0] and f"(exit {code};" in problems[0], run.stdout
    assert not (tmp_path / "conformance.json").exists()  # nothing was judged, nobody is blamed
    assert "FAILED" not in run.stdout and "MUST" not in run.stdout
    assert run.stdout.strip().splitlines()[-1].startswith("scimcert verdict: NOT RUN against ")
    assert server.token not in run.stdout + run.stderr


def test_no_preflight_lets_experts_through(tmp_path, server):
    """--no-preflight: a refused token is then judged by the checks (here the token checks fail)."""
    run = run_suite(tmp_path, "--no-preflight", "--idp", "okta", env=external(server, SCIM_TOKEN="not-the-token"),
                    suites=QUICK)
    assert run.returncode == 1
    assert not any(line.startswith("scimcert preflight: ") for line in run.stdout.splitlines())
    assert (tmp_path / "conformance.json").exists()


def test_a_correct_target_passes_the_preflight_and_is_named_first_and_last(tmp_path, server):
    run = run_suite(tmp_path, "--idp", "okta", env=external(server), suites=QUICK)
    lines = run.stdout.strip().splitlines()
    assert run.returncode == 0, run.stdout[-2000:]
    assert lines[0].startswith("scimcert run tag ") and f"against {server.base_url}:" in lines[0]
    assert re.match(rf"scimcert verdict: PASS against {re.escape(server.base_url)}: 0 MUST failed, 0 warned, "
                    r"\d+ passed, \d+ skipped of \d+ requirements$", lines[-1]), lines[-1]


# ---- usage errors: never a green run against the wrong target ---------------------------------------

USAGE = {
    "token without base URL": ((), {"SCIM_TOKEN": "some-token"}, "SCIM_TOKEN is set but SCIM_BASE_URL is not"),
    "guests without base URL": ((), {"SCIM_GUESTS": "pat@gmail.com"}, "SCIM_GUESTS is set but SCIM_BASE_URL is not"),
    "domains without base URL": ((), {"SCIM_ORG_DOMAINS": "example.com"}, "SCIM_ORG_DOMAINS is set"),
    "embedded and a base URL": (("--embedded",), {"SCIM_BASE_URL": "https://app.example.com/scim/v2",
                                                  "SCIM_TOKEN": "t"}, "--embedded"),
    "variant without =": (("--variant", "okta.updateUser"), {}, "expected [IDP.]STEP=NAME"),
    "unknown reference fault": (("--reference-fault", "no-such-fault"), {}, "unknown --reference-fault"),
    "reference fault with a base URL": (("--reference-fault", "patch-ignored"),
                                        {"SCIM_BASE_URL": "https://app.example.com/scim/v2", "SCIM_TOKEN": "t"},
                                        "--reference-fault applies to the embedded reference server only"),
}


@pytest.mark.parametrize("case", list(USAGE))
def test_configuration_mistakes_are_usage_errors(tmp_path, case):
    args, env, message = USAGE[case]
    run = run_suite(tmp_path, *args, env=env, suites=QUICK, timeout=60)
    assert run.returncode == 4, run.stdout[-2000:] + run.stderr[-2000:]
    assert message in run.stderr and len(run.stderr.strip().splitlines()) <= 2, run.stderr
    assert not (tmp_path / "conformance.json").exists()


def test_embedded_asked_for_explicitly_ignores_target_settings(tmp_path):
    run = run_suite(tmp_path, "--embedded", "--idp", "okta,entra", env={"SCIM_TOKEN": "left-over-token"}, suites=QUICK)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert run.document["target"]["embedded"] is True and run.document["target"]["idps"] == ["okta", "entra"]


def test_the_readme_exit_code_table_is_what_the_code_does():
    """README, "Exit status": every code the suite can end with, held to the code."""
    section = (ROOT / "README.md").read_text("utf-8").split("## Exit status", 1)[1].split("\n## ", 1)[0]
    table = {int(code): meaning for code, meaning in re.findall(r"^\| `(\d+)` \| (.+?) \|$", section, re.M)}
    for code, meaning in EXIT_CODES.items():
        assert code in table and table[code].startswith("preflight: " + meaning), (code, table.get(code))
    assert {0, 1, 2, 3, 4, 5} <= set(table)
    assert set(table) == {0, 1, 2, 3, 4, 5, *EXIT_CODES}


def test_run_command_passes_through_to_pytest(tmp_path):
    """`scimcert run` options become the plugin's options and SCIM_* variables; `--` hands the rest to pytest."""
    from scimcert.launch import parser, pytest_arguments

    args = parser().parse_args(["--idp", "okta,entra", "--variant", "okta.updateUser=put", "--workers", "2",
                                "--reports-dir", str(tmp_path), "--no-preflight", "--strict"])
    argv = pytest_arguments(args, ["-k", "create", "-x"])
    assert Path(argv[0]).name == "suites"
    assert argv[-3:] == ["-k", "create", "-x"]
    for expected in (["--idp", "okta,entra"], ["--variant", "okta.updateUser=put"], ["-n", "2"],
                     ["--reports-dir", str(tmp_path)]):
        assert any(argv[i:i + 2] == expected for i in range(len(argv))), (expected, argv)
    assert "--no-preflight" in argv and "--strict" in argv
