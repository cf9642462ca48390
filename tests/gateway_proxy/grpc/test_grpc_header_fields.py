"""The header fields of a proxied gRPC call, as pure decisions: what the backend and the client see."""

from __future__ import annotations

import pytest

from gateway_proxy import resources
from gateway_proxy.http2 import fields

CALL = [(b":method", b"POST"), (b":scheme", b"https"), (b":path", b"/pkg.Echo/Call"), (b":authority", b"api.example.com"),
        (b"content-type", b"application/grpc"), (b"te", b"trailers"), (b"x-user", b"a"), (b"x-user", b"b"),
        (b"connection", b"keep-alive"), (b"x-forwarded-for", b"10.0.0.1")]


def test_the_backend_gets_h2c_pseudo_fields_forwarding_fields_and_no_connection_fields():
    sent = fields.backend_request(CALL, b"api.example.com", "127.0.0.1", tls=True, modifier=None)
    assert sent[:4] == [(b":method", b"POST"), (b":scheme", b"http"), (b":path", b"/pkg.Echo/Call"),
                        (b":authority", b"api.example.com")]
    assert (b"te", b"trailers") in sent and (b"connection", b"keep-alive") not in sent
    assert (b"x-forwarded-for", b"10.0.0.1, 127.0.0.1") in sent and (b"x-forwarded-proto", b"https") in sent


@pytest.mark.parametrize("modifier,expected", [
    pytest.param(resources.HeaderModifier(set=(("X-User", "c"),)), [(b"x-user", b"c")], id="set-replaces-every-value"),
    pytest.param(resources.HeaderModifier(add=(("x-user", "c"),)), [(b"x-user", b"a"), (b"x-user", b"b"),
                                                                    (b"x-user", b"c")], id="add-appends"),
    pytest.param(resources.HeaderModifier(remove=("X-USER",)), [], id="remove-ignores-case"),
    pytest.param(resources.HeaderModifier(set=(("x-user", "c"),), remove=("x-user",)), [], id="remove-wins"),
])
def test_header_modifiers(modifier, expected):
    modified = fields.modified(CALL, modifier)
    assert [item for item in modified if item[0] == b"x-user"] == expected
    assert modified[:4] == CALL[:4]  # pseudo-fields are never touched


def test_a_proxy_answer_is_trailers_only_with_an_encoded_message():
    answer = dict(fields.trailers_only(14, "no ready endpoints: 100% é"))
    assert answer[b":status"] == b"200" and answer[b"grpc-status"] == b"14"
    assert answer[b"grpc-message"] == b"no ready endpoints: 100%25 %C3%A9"


def test_repeated_fields_are_joined_for_header_matching():
    assert fields.regular(CALL)["x-user"] == "a, b"
