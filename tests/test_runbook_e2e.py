"""Runbooks under load against the built-in target: every example, failures, TLS, purity."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import pytest

from loadscope.engine import HttpVersion, Session, SessionConfig
from loadscope.engine.runbook import RunbookError, compile_runbooks, load_runbooks
from loadscope.engine.target import TargetProcess

from .reports import report_of

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
OWNED_EXAMPLES = sorted(
    path for path in EXAMPLES.glob("*.yml") if path.name not in ("demo.yml", "churn.yml")
)
pytestmark = pytest.mark.timeout(60)


def run(
    scenario: object,
    concurrency: int = 2,
    duration: float = 0.4,
    grace: float = 5.0,
    http_version: HttpVersion = HttpVersion.AUTO,
) -> Session:
    config = SessionConfig(
        concurrency=concurrency,
        duration=duration,
        stop_grace=grace,
        kernel_view=False,
        detectors=False,
        http_version=http_version,
    )
    session = Session(config, scenario)  # type: ignore[arg-type]
    asyncio.run(asyncio.wait_for(session.run(), duration + grace + 20))
    return session


def env_for(target: TargetProcess) -> dict[str, str]:
    return {"TARGET": target.http_url}


def test_there_are_enough_examples() -> None:
    assert len(OWNED_EXAMPLES) >= 5
    for path in OWNED_EXAMPLES:
        head = [line for line in path.read_text().splitlines()[:5] if line.startswith("#")]
        assert any("TARGET" in line for line in head), f"{path.name}: say how to point it"


@pytest.mark.parametrize("path", OWNED_EXAMPLES, ids=lambda p: p.name)
def test_example_runs_clean(target: TargetProcess, path: Path) -> None:
    scenario = load_runbooks([path], env=env_for(target))
    assert scenario.warnings == []
    snapshot = run(scenario).snapshot()
    assert snapshot.iterations_total > 0
    assert snapshot.iterations_failed == 0, snapshot.failures
    assert snapshot.iterations_succeeded == snapshot.iterations_total
    steps = {step.name: step for step in snapshot.steps}
    assert set(steps) == set(scenario.step_names())
    assert all(step.errors == 0 for step in steps.values())


def test_examples_exercise_every_feature() -> None:
    texts = {path.name: path.read_text() for path in OWNED_EXAMPLES}
    everything = "\n".join(texts.values())
    for feature in ("useCookie: true", "bind:", "until:", "application/x-www-form-urlencoded",
                    "multipart/form-data", "include:", "if:", "loop:", "'pages[]'", "runn.i",
                    "previous.", "steps[0]", "cookies"):  # fmt: skip
        assert feature in everything, feature


def test_conditional_example_with_a_var(target: TargetProcess) -> None:
    scenario = load_runbooks(
        [EXAMPLES / "conditional.yml"], {"premium": "true"}, env=env_for(target)
    )
    snapshot = run(scenario).snapshot()
    steps = {step.name: step for step in snapshot.steps}
    assert steps["conditional:premium"].requests == snapshot.iterations_total
    assert 0 < steps["conditional:every_other"].requests < snapshot.iterations_total
    assert snapshot.iterations_failed == 0


@pytest.mark.slow
def test_all_examples_in_one_run(target: TargetProcess) -> None:
    scenario = load_runbooks(OWNED_EXAMPLES, env=env_for(target))
    snapshot = run(scenario, duration=0.6).snapshot()
    assert snapshot.iterations_total > 0 and snapshot.iterations_failed == 0, snapshot.failures
    report = report_of(snapshot)
    for key in ("iterations_total", "iterations_succeeded", "iterations_failed",
                "iteration_latency_ms", "steps", "failures"):  # fmt: skip
        assert key in report
    assert report["steps"]["users:create"]["status_codes"] == {
        "201": report["steps"]["users:create"]["requests"]
    }
    assert "include:sign_in>session:login" in report["steps"]


def test_failed_tests_are_counted_and_the_run_goes_on(
    target: TargetProcess, tmp_path: Path
) -> None:
    path = tmp_path / "flaky.yml"
    path.write_text(textwrap.dedent(f"""
        runners: {{req: "{target.http_url}"}}
        steps:
          get:
            req: {{/json: {{get: {{}}}}}}
            test: runn.i % 2 == 0
          after:
            req: {{/: {{get: {{}}}}}}
        """))  # fmt: skip
    snapshot = run(load_runbooks([path])).snapshot()
    failures = dict(snapshot.failures)
    assert list(failures) == ["flaky:get: test failed: runn.i % 2 == 0"]
    assert snapshot.iterations_failed == failures["flaky:get: test failed: runn.i % 2 == 0"]
    assert snapshot.iterations_succeeded > 0
    steps = {step.name: step for step in snapshot.steps}
    assert steps["flaky:after"].requests == snapshot.iterations_succeeded


REQUEST = "req: {/: {get: {}}}"


@pytest.mark.parametrize(
    "body",
    [
        f"steps:\n  - test: 'false'\n  - {REQUEST}\n",  # fails before any request
        # only runs when included: skipped (a load error; compiled, the engine still ends)
        f"if: included\nsteps:\n  - {REQUEST}\n",
        f"steps:\n  - {{loop: 0, {REQUEST}}}\n",  # a loop of no attempts
    ],
    ids=["test-first", "if-false", "loop-0"],
)
def test_iterations_that_send_nothing_still_end_on_time(tmp_path: Path, body: str) -> None:
    """They never wait on the network; the VU must still let the deadline and signals in."""
    path = tmp_path / "idle.yml"
    path.write_text("runners: {req: 'http://127.0.0.1:1'}\n" + body)
    session = run(compile_runbooks([path]), concurrency=1, duration=0.3)
    snapshot = session.snapshot()
    assert snapshot.requests_total == 0 and snapshot.iterations_total > 0
    assert snapshot.elapsed_s < 5


def test_request_errors_fail_the_iteration(tmp_path: Path) -> None:
    path = tmp_path / "down.yml"
    path.write_text("runners: {req: 'http://127.0.0.1:1'}\nsteps:\n  s:\n    req: {/: {get: {}}}\n")
    snapshot = run(load_runbooks([path]), concurrency=1, duration=0.2).snapshot()
    assert snapshot.iterations_failed == snapshot.iterations_total > 0
    assert [reason for reason, _ in snapshot.failures] == ["down:s: connect_refused"]


def test_https_runner_with_its_certificate(target: TargetProcess, tmp_path: Path) -> None:
    path = tmp_path / "tls.yml"
    path.write_text(textwrap.dedent(f"""
        runners:
          secure:
            endpoint: {target.https_url}
            cacert: {target.cert_path}
        steps:
          me:
            secure: {{/echo: {{get: {{}}}}}}
            test: current.res.status == 200
        """))  # fmt: skip
    snapshot = run(load_runbooks([path])).snapshot()
    assert snapshot.iterations_total > 0 and snapshot.iterations_failed == 0, snapshot.failures


def test_an_iteration_cut_by_the_deadline_finishes_and_counts(
    target: TargetProcess, tmp_path: Path
) -> None:
    path = tmp_path / "slow.yml"
    path.write_text(
        f"runners: {{req: '{target.http_url}'}}\nsteps:\n  s:\n"
        "    req: {/delay/300: {get: {}}}\n    test: current.res.status == 200\n"
    )
    snapshot = run(load_runbooks([path]), concurrency=2, duration=0.1).snapshot()
    assert snapshot.iterations_total == snapshot.iterations_succeeded == 2
    assert snapshot.iterations_failed == 0


def test_loading_is_pure(target: TargetProcess, tmp_path: Path) -> None:
    before = target.accepted()
    broken = tmp_path / "broken.yml"
    broken.write_text(f"runners: {{req: '{target.http_url}'}}\nsteps:\n  s:\n"
                      "    req: {/: {get: {}}}\n    test: current.res.status ==\n")  # fmt: skip
    with pytest.raises(RunbookError):
        load_runbooks([broken])
    good = tmp_path / "good.yml"
    good.write_text(
        f"runners: {{req: '{target.http_url}'}}\nsteps:\n  s:\n    req: {{/: {{get: {{}}}}}}\n"
    )
    load_runbooks([good])
    assert target.accepted() == before


@pytest.mark.parametrize("tls", [False, True], ids=["h2c", "h2-tls"])
def test_templated_requests_over_http2(target: TargetProcess, tmp_path: Path, tls: bool) -> None:
    endpoint = (
        f"{{endpoint: '{target.https_url}', cacert: '{target.cert_path}'}}"
        if tls
        else (f"'{target.http_url}'")
    )
    path = tmp_path / "h2.yml"
    path.write_text(
        f"runners:\n  req: {endpoint}\nsteps:\n  create:\n"
        "    req: {/users: {post: {body: {application/json: {n: '{{ runn.i }}'}}}}}\n"
        "    bind: {id: current.res.body.id}\n"
        "  get:\n"
        "    req: {'/users/{{ id }}?i={{ runn.i }}': {get: {headers: {X-I: '{{ runn.i }}'}}}}\n"
        "    test: current.res.status == 200 && current.res.body.n == runn.i\n"
    )
    session = run(load_runbooks([path]), http_version=HttpVersion.HTTP2)
    snapshot = session.snapshot()
    assert snapshot.iterations_total > 0 and snapshot.iterations_failed == 0, snapshot.failures
    assert dict(snapshot.http_versions) == {"HTTP/2": snapshot.requests_total}
