"""Who is calling, as the API checks it: a bearer JWT verified against the configured key, with
the algorithm pinned by the key. Every bad token is a 401 that writes nothing; no key at all
shuts the API (503) rather than running it open; CORS stays off unless origins are listed."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from api_client import ENV, SECRET, api_server, token
from bookit import commands as c
from bookit.aggregates.base import SYSTEM
from bookit.bootstrap import Service
from bookit.entrypoints.api import make_api

ANN = "ann@example.com"
SLOT = {"venue_id": "main-hall", "date": "2026-12-03", "start": "14:00", "end": "16:00"}


@pytest.fixture
def hall(service: Service) -> Service:
    service.bus.handle(c.RegisterVenue(actor=SYSTEM, name="Main Hall", tz="Europe/London"))
    return service


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _unsigned(sub: str) -> str:
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64({'sub': sub, 'exp': int(time.time()) + 600})}."


def _events(service: Service) -> int:
    return service.app.recorder.max_notification_id() or 0


BAD_TOKENS = {
    "alg none": _unsigned(ANN),
    "wrong key": token(ANN, secret="another-secret-of-a-decent-length-too!"),
    "expired": token(ANN, lifetime=-3600),
    "no exp": jwt.encode({"sub": ANN}, SECRET, algorithm="HS256"),
    "no sub": token(None),
    "sub not an email": token("ann"),
    "sub not text": token(42),
    "HS512 with the secret": token(ANN, alg="HS512"),
    "not a jwt": "hello",
}


@pytest.mark.parametrize("why", sorted(BAD_TOKENS))
def test_a_bad_token_is_401_and_writes_nothing(hall: Service, why: str) -> None:
    before = _events(hall)
    with api_server(hall) as base, httpx.Client(base_url=base) as client:
        headers = {"Authorization": f"Bearer {BAD_TOKENS[why]}", "Idempotency-Key": why}
        answer = client.post("/api/bookings", json=SLOT, headers=headers)
        assert answer.status_code == 401, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert answer.json()["code"] == "bad_token"
        assert client.get("/api/venues", headers=headers).status_code == 401
    assert _events(hall) == before


def test_a_short_secret_or_a_bad_public_key_stops_the_api_from_starting(hall: Service) -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        make_api(hall, env={"BOOKIT_API_SECRET": "short"})
    with pytest.raises(ValueError, match="PEM public key"):
        make_api(hall, env={"BOOKIT_API_PUBLIC_KEY": "not a key"})


def test_no_token_or_another_scheme_is_401(hall: Service) -> None:
    with api_server(hall) as base, httpx.Client(base_url=base) as client:
        for headers in ({}, {"Authorization": "Basic YW5uOnB3"}, {"Authorization": "Bearer"}):
            answer = client.post("/api/bookings", json=SLOT, headers=headers)
            assert (answer.status_code, answer.json()["code"]) == (401, "no_token")


def test_with_no_key_configured_every_request_is_503(hall: Service) -> None:
    with api_server(hall, env={}) as base, httpx.Client(base_url=base) as client:
        auth = {"Authorization": f"Bearer {token(ANN)}"}
        for method, path in [
            ("GET", "/api/venues"),
            ("POST", "/api/bookings"),
            ("GET", "/api/openapi.json"),
            ("GET", "/api/docs"),
            ("GET", "/api/try"),
        ]:
            answer = client.request(method, path, headers=auth, json=SLOT if method == "POST" else None)
            assert answer.status_code == 503, (path, answer.text)
            assert answer.json()["code"] == "api_not_configured"
        # The link pages beside it are not the API: they keep working.
        assert client.get("/l/anything").status_code in (400, 404)


def _pem(private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return public.decode()


@pytest.mark.parametrize("kind", ["RS256", "ES256"])
def test_a_public_key_accepts_its_own_algorithm_only(hall: Service, kind: str) -> None:
    private = (
        rsa.generate_private_key(65537, 2048) if kind == "RS256" else ec.generate_private_key(ec.SECP256R1())
    )
    env = {"BOOKIT_API_PUBLIC_KEY": _pem(private)}
    good = jwt.encode({"sub": ANN, "exp": int(time.time()) + 600}, private, algorithm=kind)
    # The classic confusion: the public key's text used as an HMAC secret.
    confused = jwt.encode({"sub": ANN, "exp": int(time.time()) + 600}, "x" * 64, algorithm="HS256")
    with api_server(hall, env=env) as base, httpx.Client(base_url=base) as client:
        ok = client.post("/api/bookings", json=SLOT, headers={"Authorization": f"Bearer {good}"})
        assert ok.status_code == 201, ok.text
        for bad in (confused, _unsigned(ANN), token(ANN)):
            answer = client.get("/api/venues", headers={"Authorization": f"Bearer {bad}"})
            assert answer.status_code == 401


def test_issuer_and_audience_are_checked_when_configured(hall: Service) -> None:
    env = ENV | {"BOOKIT_API_ISSUER": "https://id.example.com", "BOOKIT_API_AUDIENCE": "bookit"}
    right = token(ANN, iss="https://id.example.com", aud="bookit")
    wrong = [
        token(ANN, iss="https://evil.example.com", aud="bookit"),
        token(ANN, iss="https://id.example.com", aud="other"),
        token(ANN),
    ]
    with api_server(hall, env=env) as base, httpx.Client(base_url=base) as client:
        assert client.get("/api/venues", headers={"Authorization": f"Bearer {right}"}).status_code == 200
        for bad in wrong:
            assert client.get("/api/venues", headers={"Authorization": f"Bearer {bad}"}).status_code == 401


def test_admin_rights_come_from_the_roster_not_from_the_token(hall: Service) -> None:
    claims_admin = token(ANN, role="admin", admin=True, groups=["admins"])
    with api_server(hall) as base, httpx.Client(base_url=base) as client:
        venue = {"name": "Annex", "tz": "UTC"}
        answer = client.post("/api/venues", json=venue, headers={"Authorization": f"Bearer {claims_admin}"})
        assert (answer.status_code, answer.json()["code"]) == (403, "not_admin")
        hall.bus.handle(c.GrantAdmin(actor=SYSTEM, email=ANN))
        answer = client.post("/api/venues", json=venue, headers={"Authorization": f"Bearer {token(ANN)}"})
        assert answer.status_code == 201


@pytest.fixture
def cors_base(hall: Service) -> Iterator[str]:
    with api_server(hall, env=ENV | {"BOOKIT_API_CORS_ORIGINS": "https://app.example.com"}) as base:
        yield base


def test_cors_is_off_unless_origins_are_listed(hall: Service, cors_base: str) -> None:
    preflight = {"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"}
    with api_server(hall) as base, httpx.Client(base_url=base) as client:
        answer = client.get("/api/venues", headers={"Origin": "https://app.example.com"})
        assert "access-control-allow-origin" not in answer.headers
        assert "access-control-allow-origin" not in client.options("/api/bookings", headers=preflight).headers
    with httpx.Client(base_url=cors_base) as client:
        listed = client.options(
            "/api/bookings", headers=preflight | {"Access-Control-Request-Headers": "authorization"}
        )
        assert listed.headers["access-control-allow-origin"] == "https://app.example.com"
        other = client.get("/api/venues", headers={"Origin": "https://evil.example.com"})
        assert "access-control-allow-origin" not in other.headers
