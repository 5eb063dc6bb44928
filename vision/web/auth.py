"""Who may call the API, and as which user: ``none``, ``api-key`` or ``jwt``.

Framework-free: :func:`authenticate` reads request headers, :func:`effective_user`
checks the ``name`` a request names against the caller.

- ``none`` (the local demo default): anyone, as any user.
- ``api-key``: a trusted backend sends ``X-API-Key: <key>`` (one of
  ``VISION_API_KEYS``, comma-separated) and passes user ids as ``name``.
- ``jwt``: the app sends ``Authorization: Bearer <token>``; the token is
  verified with PyJWT against ``VISION_JWT_SECRET`` (HMAC) or
  ``VISION_JWT_PUBLIC_KEY`` (PEM; RSA/EC/EdDSA), and must carry ``exp``,
  ``sub``, the configured ``iss`` (``VISION_JWT_ISSUER``) and ``aud``
  (``VISION_JWT_AUDIENCE``).  The subject is the user id: a request without
  ``name`` acts as the subject, one naming another user is refused (403).

Missing or invalid credentials are 401 (with ``WWW-Authenticate``), a valid
caller acting for another user is 403.  Reasons never contain the key, the
token or the secret.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass

import jwt

from vision.core.logsafe import safe_text
from vision.store.ids import validate_client_user_id

__all__ = ["AUTH_MODES", "AuthConfig", "AuthError", "Principal", "authenticate", "effective_user"]

AUTH_MODES = ("none", "api-key", "jwt")
API_KEY_HEADER = "x-api-key"
_ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
_MIN_SECRET_BYTES = 32  # RFC 7518: an HS256 key at least as long as the hash


class AuthError(Exception):
    """The caller is not let in: ``status`` 401 or 403, ``reason`` safe to show and log."""

    def __init__(self, status: int, reason: str, challenge: str | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.challenge = challenge


@dataclass(frozen=True)
class Principal:
    """Who is calling: ``kind`` is ``anonymous``, ``service`` (API key) or ``user`` (token subject)."""

    kind: str
    subject: str | None = None


@dataclass(frozen=True)
class AuthConfig:
    """Authentication settings; build with :meth:`from_settings`."""

    mode: str = "none"
    api_keys: tuple[str, ...] = ()
    jwt_key: str | None = None
    algorithms: tuple[str, ...] = ("HS256",)
    issuer: str | None = None
    audience: str | None = None
    leeway_s: float = 30.0

    def __repr__(self) -> str:  # never print keys
        return f"AuthConfig(mode={self.mode!r}, algorithms={self.algorithms}, issuer={self.issuer!r})"

    @classmethod
    def from_settings(cls, settings: Mapping[str, str]) -> AuthConfig:
        """Read ``VISION_AUTH`` and its companions; ``ValueError`` naming the missing setting."""
        mode = (settings.get("VISION_AUTH") or "none").strip().lower() or "none"
        if mode not in AUTH_MODES:
            raise ValueError(f"VISION_AUTH must be one of {', '.join(AUTH_MODES)}, got {safe_text(mode)!r}")
        if mode == "none":
            return cls()
        if mode == "api-key":
            keys = tuple(k.strip() for k in (settings.get("VISION_API_KEYS") or "").split(",") if k.strip())
            if not keys:
                raise ValueError("VISION_AUTH is api-key but VISION_API_KEYS is empty")
            if any(len(k) < 16 for k in keys):
                raise ValueError("every key in VISION_API_KEYS must be at least 16 characters")
            return cls(mode=mode, api_keys=keys)
        secret = (settings.get("VISION_JWT_SECRET") or "").strip()
        public = (settings.get("VISION_JWT_PUBLIC_KEY") or "").strip()
        issuer = (settings.get("VISION_JWT_ISSUER") or "").strip()
        audience = (settings.get("VISION_JWT_AUDIENCE") or "").strip()
        if bool(secret) == bool(public):
            raise ValueError("VISION_AUTH is jwt: set exactly one of VISION_JWT_SECRET and VISION_JWT_PUBLIC_KEY")
        if not issuer or not audience:
            raise ValueError("VISION_AUTH is jwt: VISION_JWT_ISSUER and VISION_JWT_AUDIENCE are required")
        default = "HS256" if secret else "RS256"
        algorithms = tuple(
            a.strip() for a in (settings.get("VISION_JWT_ALGORITHMS") or default).split(",") if a.strip()
        )
        symmetric = [a for a in algorithms if a.startswith("HS")]
        if secret and (not symmetric or len(symmetric) != len(algorithms)):
            raise ValueError("VISION_JWT_SECRET needs HMAC algorithms (HS256, HS384, HS512)")
        if public and any(a not in _ASYMMETRIC for a in algorithms):
            # An HMAC algorithm with a public key would let anyone sign with the (public) key.
            raise ValueError(f"VISION_JWT_PUBLIC_KEY needs asymmetric algorithms ({', '.join(_ASYMMETRIC)})")
        if secret and len(secret.encode("utf-8")) < _MIN_SECRET_BYTES:
            raise ValueError(f"VISION_JWT_SECRET must be at least {_MIN_SECRET_BYTES} bytes")
        if public and "\\n" in public:  # keys pasted into one env line
            public = public.replace("\\n", "\n")
        return cls(mode=mode, jwt_key=secret or public, algorithms=algorithms, issuer=issuer, audience=audience)


def authenticate(config: AuthConfig, headers: Mapping[str, str]) -> Principal:
    """The caller named by the request headers (lower-case names), or :class:`AuthError`."""
    if config.mode == "none":
        return Principal("anonymous")
    if config.mode == "api-key":
        given = headers.get(API_KEY_HEADER)
        if not given:
            raise AuthError(401, "missing X-API-Key header", 'ApiKey realm="vision"')
        matched = False
        for key in config.api_keys:  # compare against all: timing does not tell which
            matched |= hmac.compare_digest(given.encode("utf-8", "replace"), key.encode("utf-8"))
        if not matched:
            raise AuthError(401, "invalid API key", 'ApiKey realm="vision"')
        return Principal("service")
    return Principal("user", _verify_token(config, headers.get("authorization") or ""))


def _verify_token(config: AuthConfig, header: str) -> str:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError(401, "missing bearer token", 'Bearer realm="vision"')
    challenge = 'Bearer realm="vision", error="invalid_token"'
    if config.jwt_key is None:  # from_settings never builds a jwt config without one
        raise AuthError(401, "no token key configured", challenge)
    try:
        claims = jwt.decode(
            token.strip(),
            config.jwt_key,
            algorithms=list(config.algorithms),
            audience=config.audience,
            issuer=config.issuer,
            leeway=config.leeway_s,
            options={"require": ["exp", "sub", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError:
        raise AuthError(401, "the token has expired", challenge) from None
    except jwt.InvalidAudienceError:
        raise AuthError(401, "the token is for another audience", challenge) from None
    except jwt.InvalidIssuerError:
        raise AuthError(401, "the token has another issuer", challenge) from None
    except jwt.MissingRequiredClaimError as exc:
        raise AuthError(401, f"the token lacks the {exc.claim!r} claim", challenge) from None
    except jwt.InvalidTokenError as exc:  # bad signature, malformed, wrong algorithm, not yet valid
        raise AuthError(401, f"invalid token ({type(exc).__name__})", challenge) from None
    subject = claims.get("sub")
    try:
        return validate_client_user_id(subject if isinstance(subject, str) else "")
    except ValueError:
        raise AuthError(401, "the token's subject is not a valid user id", challenge) from None


def effective_user(principal: Principal, name: object) -> object:
    """The user a request acts for: its ``name``, or the token's subject.

    A token holder may only act as its subject: ``name`` absent means the
    subject, a different ``name`` is :class:`AuthError` 403.  Other callers'
    ``name`` is returned unchanged (validated later by the flow).
    """
    if principal.kind != "user":
        return name
    if name is None:
        return principal.subject
    if name != principal.subject:
        raise AuthError(403, f"the token is for user {principal.subject!r}, not {safe_text(name)!r}")
    return name
