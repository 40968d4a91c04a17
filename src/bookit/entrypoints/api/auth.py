"""Who is calling: a bearer JWT, verified the way API gateways verify one.

The key decides the algorithm, never the token: `BOOKIT_API_SECRET` allows HS256 only;
`BOOKIT_API_PUBLIC_KEY` (PEM) allows RS256 for an RSA key or ES256 for an EC key. A token whose
header names any other algorithm (`none` included) is turned away before its signature is
looked at. `exp` and `sub` are required, `sub` must be an email address (the actor), and
`iss`/`aud` are checked when BOOKIT_API_ISSUER / BOOKIT_API_AUDIENCE are set. What the caller
may do comes from BookIT's own records, never from a claim in the token.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from pydantic import TypeAdapter, ValidationError

from bookit import commands as c
from bookit.entrypoints.api.problems import ApiError

MIN_SECRET_BYTES = 32
LEEWAY_SECONDS = 30  # clock skew between the token's issuer and us
_EMAIL: TypeAdapter[str] = TypeAdapter(c.Email)
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="bookit"'}


@dataclass(frozen=True)
class TokenRules:
    """The keys by algorithm, and the claims a token must carry. No keys: the API is shut."""

    keys: dict[str, Any] = field(default_factory=dict)
    issuer: str | None = None
    audience: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TokenRules:
        env = os.environ if env is None else env
        keys: dict[str, Any] = {}
        secret = env.get("BOOKIT_API_SECRET", "")
        if secret:
            if len(secret.encode()) < MIN_SECRET_BYTES:
                # RFC 7518 3.2: an HS256 key is at least as long as the hash (256 bits).
                raise ValueError(f"BOOKIT_API_SECRET must be at least {MIN_SECRET_BYTES} bytes long")
            keys["HS256"] = secret.encode()
        pem = env.get("BOOKIT_API_PUBLIC_KEY", "")
        if pem:
            keys.update(_public_key(pem))
        return cls(keys, env.get("BOOKIT_API_ISSUER") or None, env.get("BOOKIT_API_AUDIENCE") or None)

    @property
    def configured(self) -> bool:
        return bool(self.keys)

    def describe(self) -> str:
        if not self.keys:
            return "no token key configured: every request answers 503 (set BOOKIT_API_SECRET)"
        return "tokens signed with " + " or ".join(sorted(self.keys))

    def actor(self, authorization: str | None) -> str:
        """The verified email address of the caller, or ApiError 401 saying what is wrong."""
        token = _bearer(authorization)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _unauthorized("the bearer token is not a JWT") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.keys:
            raise _unauthorized(f"tokens signed with {str(alg)[:20]!r} are not accepted")
        try:
            claims = jwt.decode(
                token,
                self.keys[alg],
                algorithms=[alg],
                issuer=self.issuer,
                audience=self.audience,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "sub"], "verify_aud": self.audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise _unauthorized("the token has expired") from None
        except jwt.MissingRequiredClaimError as error:
            raise _unauthorized(f"the token has no {error.claim!r} claim") from None
        except jwt.InvalidSignatureError:
            raise _unauthorized("the token's signature does not match the key") from None
        except jwt.PyJWTError as error:
            raise _unauthorized(f"the token is not valid: {str(error)[:100]}") from None
        return _email_of(claims.get("sub"))


def _public_key(pem: str) -> dict[str, Any]:
    try:
        key = load_pem_public_key(pem.encode())
    except ValueError as error:
        raise ValueError(f"BOOKIT_API_PUBLIC_KEY is not a PEM public key: {error}") from None
    if isinstance(key, rsa.RSAPublicKey):
        return {"RS256": key}
    if isinstance(key, ec.EllipticCurvePublicKey):
        return {"ES256": key}
    raise ValueError("BOOKIT_API_PUBLIC_KEY must be an RSA (RS256) or EC P-256 (ES256) public key")


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise _unauthorized("send Authorization: Bearer <token>", "no_token")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("the Authorization header must be 'Bearer <token>'", "no_token")
    return token.strip()


def _email_of(sub: object) -> str:
    if not isinstance(sub, str):
        raise _unauthorized("the token's sub claim must be the caller's email address")
    try:
        return _EMAIL.validate_python(sub)
    except ValidationError:
        raise _unauthorized("the token's sub claim is not an email address") from None


def _unauthorized(detail: str, code: str = "bad_token") -> ApiError:
    return ApiError(401, code, detail, CHALLENGE)
