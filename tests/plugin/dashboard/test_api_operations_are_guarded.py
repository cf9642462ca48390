"""Operations through the dashboard: off unless asked for, and then only for its own page."""

from __future__ import annotations

import socket

from plugin_world import status

from routeshift.plugin.dashboard import guard
from routeshift.testing.polling import until

TOKEN = guard.TOKEN_HEADER


def progressing(world, unique_canary, running) -> str:
    name = unique_canary()
    world.set_status(status("Progressing"), name)
    until(lambda: running.get(f"/api/v1/canaries/default/{name}").status_code == 200, 15,
          description=f"the dashboard seeing {name}")
    return name


def test_read_only_dashboard_refuses_every_operation(shared_world, unique_canary, dashboard):
    running = dashboard()
    name = progressing(shared_world, unique_canary, running)
    assert running.token is None and "#" not in running.url
    for operation in ("promote", "pause", "abort"):
        refused = running.post(f"/api/v1/canaries/default/{name}/{operation}",
                               headers={"Origin": running.base.rstrip("/"), TOKEN: "anything"})
        assert refused.status_code == 403
        assert "read-only" in refused.json()["error"]
    assert shared_world.annotations(name) == {}


def test_operation_with_the_token_annotates_the_canary(shared_world, unique_canary, dashboard):
    running = dashboard("--allow-actions")
    name = progressing(shared_world, unique_canary, running)
    assert running.get("/api/v1/info").json()["actionsAllowed"] is True
    own = {"Origin": f"http://127.0.0.1:{running.port}", "Sec-Fetch-Site": "same-origin", TOKEN: running.token}

    done = running.post(f"/api/v1/canaries/default/{name}/pause", headers=own)
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["operation"], body["changed"]) == ("pause", True)
    assert body["expectation"] == "holding at step 1/3, canary 10%, until resume or promote"
    annotations = shared_world.annotations(name)
    assert list(annotations) == ["routeshift.dev/pause"]
    assert annotations["routeshift.dev/pause"] == body["patch"]["metadata"]["annotations"]["routeshift.dev/pause"]

    # The plugin's phase checks answer, as the command would: nothing to retry while progressing.
    not_now = running.post(f"/api/v1/canaries/default/{name}/retry", headers=own)
    assert not_now.status_code == 409
    assert not_now.json()["error"] == (f"retry: canary default/{name} is Progressing: only a failed or aborted "
                                       "rollout can be retried")
    assert running.post(f"/api/v1/canaries/default/{name}/delete", headers=own).status_code == 404
    assert running.post("/api/v1/canaries/default/nope/pause", headers=own).status_code == 404
    assert list(shared_world.annotations(name)) == ["routeshift.dev/pause"]


def test_forged_operation_requests_change_nothing(shared_world, unique_canary, dashboard):
    running = dashboard("--allow-actions")
    name = progressing(shared_world, unique_canary, running)
    token = {TOKEN: running.token}
    forged = [
        ("no token", {}, 403, "missing or wrong token"),
        ("a guessed token", {TOKEN: "guessed"}, 403, "missing or wrong token"),
        ("another page's origin", {**token, "Origin": "http://evil.example"}, 403, "another origin"),
        ("a cross-site fetch", {**token, "Sec-Fetch-Site": "cross-site"}, 403, "another site"),
        ("a rebound host name", {**token, "Host": "evil.example"}, 421, "unexpected Host"),
    ]
    for what, headers, status_code, says in forged:
        refused = running.post(f"/api/v1/canaries/default/{name}/abort", headers=headers)
        assert (refused.status_code, says in refused.json()["error"]) == (status_code, True), what
    assert shared_world.annotations(name) == {}


def test_reads_from_a_rebound_host_name_are_refused(dashboard):
    running = dashboard()
    for path in ("/", "/api/v1/canaries", "/api/v1/events"):
        assert running.get(path, headers={"Host": "evil.example"}).status_code == 421
    page = running.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert running.get("/static/dashboard.js").headers["content-type"].startswith("application/javascript")
    assert running.get("/static/missing.js").status_code == 404


def test_a_busy_port_is_reported(shared_world):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = shared_world.plugin("dashboard", "--port", str(port))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "--port" in result.stderr
