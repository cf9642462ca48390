"""``routeshift loadtester`` as an operator starts it: options, refusals, a signed call end to end."""

from __future__ import annotations

import sys

import httpx
import pytest

from analysis import WebhookSpec, call_webhook
from routeshift.loadtester import cli
from routeshift.testing import processes
from routeshift.testing.polling import until_async


@pytest.mark.parametrize(("argv", "complaint"), [
    pytest.param([], "the following arguments are required: --allow-target", id="no-allow-list"),
    pytest.param(["--allow-target", "bad name"], "neither a CIDR", id="bad-allow-entry"),
    pytest.param(["--allow-target", "127.0.0.1", "--max-duration", "forever"], "invalid duration", id="bad-bound"),
    pytest.param(["--allow-target", "127.0.0.1", "--secret-file", "/nonexistent/key"], "--secret-file",
                 id="unreadable-secret"),
])
def test_it_refuses_to_start_misconfigured(argv, complaint, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 2
    assert complaint in capsys.readouterr().err


async def test_the_command_serves_signed_hook_calls(tmp_path, target):
    key = tmp_path / "key"
    key.write_text("s3cret\n")
    port = processes.free_port()
    url = f"http://127.0.0.1:{port}"
    process = processes.start(
        [sys.executable, "-m", "routeshift", "loadtester", "--listen", f"127.0.0.1:{port}",
         "--allow-target", "127.0.0.1/32", "--max-rate", "50", "--secret-file", str(key)],
        log_path=tmp_path / "loadtester.log")
    try:
        async with httpx.AsyncClient(trust_env=False) as client:
            await until_async(lambda: client.get(url + "/healthz"), timeout=30, ignore=(httpx.TransportError,))
        hook = WebhookSpec(name="smoke", type="pre-rollout", url=url + "/", timeout="30s",
                           metadata={"url": target.url, "rate": "10", "duration": "500ms", "mode": "blocking"})
        payload = {"name": "web", "namespace": "shop", "phase": "Progressing", "weight": 0, "step": 0}
        outcome = await call_webhook(hook, payload, secret="s3cret")
        assert outcome.ok, outcome.reason
        assert outcome.detail.startswith("finished 0.5s: 5/5 sent; 2xx 5;")
        refused = await call_webhook(hook.model_copy(update={"metadata": {"url": target.url, "rate": "60"}}),
                                     payload, secret="s3cret")
        assert refused.reason == "HTTP 400: rate 60 exceeds this loadtester's bound --max-rate 50"
    finally:
        assert processes.stop(process) is not None
    assert len(target.received) == 5
