"""The sandbox's side of authentication: the OAuth 2.0 token endpoint
(RFC 6749 §4.4, errors per §5.2) and the check of every Bearer token."""

from __future__ import annotations

import base64
import binascii
import secrets
import time
import warnings
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote_plus

import jwt

MAX_JWT_LIFETIME = 21600

# PyJWT warns about an HMAC key under 32 bytes, with its length: a secret's
# length is information about it and is never shown.
if hasattr(jwt, "InsecureKeyLengthWarning"):
    warnings.filterwarnings("ignore", category=jwt.InsecureKeyLengthWarning)


class OAuthError(Exception):
    """An RFC 6749 §5.2 error answer."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


class Unauthenticated(Exception):
    """A request to /api without a usable Bearer token."""


@dataclass
class TokenAuthority:
    api_key: str
    api_secret: str
    token_ttl: int = 21600
    _issued: dict[str, float] = field(default_factory=dict)
    tokens_issued: int = 0

    def issue(self, authorization: str | None, content_type: str, body: bytes) -> dict[str, object]:
        if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
            raise OAuthError(
                "invalid_request", "Content-Type must be application/x-www-form-urlencoded"
            )
        try:
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError as exc:
            raise OAuthError("invalid_request", "body is not UTF-8") from exc
        if any(len(values) > 1 for values in form.values()):
            raise OAuthError("invalid_request", "a parameter was given more than once")
        grant = form.get("grant_type", [None])[0]
        client_id, client_secret = self._client(authorization, form)
        if not grant:
            raise OAuthError("invalid_request", "grant_type is required")
        if grant != "client_credentials":
            raise OAuthError("unsupported_grant_type", "only client_credentials is supported")
        if not (  # as bytes: compare_digest takes no non-ASCII text
            secrets.compare_digest(client_id.encode(), self.api_key.encode())
            and secrets.compare_digest(client_secret.encode(), self.api_secret.encode())
        ):
            raise OAuthError("invalid_client", "client authentication failed", 401)
        token = secrets.token_urlsafe(32)
        self._issued[token] = time.time() + self.token_ttl
        self.tokens_issued += 1
        return {"access_token": token, "token_type": "Bearer", "expires_in": self.token_ttl}

    def _client(self, authorization: str | None, form: dict[str, list[str]]) -> tuple[str, str]:
        if authorization:
            scheme, _, encoded = authorization.partition(" ")
            if scheme.lower() != "basic":
                raise OAuthError("invalid_client", "use HTTP Basic client authentication", 401)
            try:
                decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise OAuthError("invalid_client", "malformed Basic credentials", 401) from exc
            user, sep, password = decoded.partition(":")
            if not sep:
                raise OAuthError("invalid_client", "malformed Basic credentials", 401)
            if "client_secret" in form:
                raise OAuthError("invalid_request", "use only one client authentication method")
            return unquote_plus(user), unquote_plus(password)
        if "client_id" in form and "client_secret" in form:
            return form["client_id"][0], form["client_secret"][0]
        raise OAuthError("invalid_client", "client authentication is required", 401)

    def revoke_all(self) -> None:
        self._issued.clear()

    def check_bearer(self, authorization: str | None) -> None:
        if not authorization:
            raise Unauthenticated("missing Authorization header")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("Authorization header must be 'Bearer <token>'")
        if token.count(".") == 2:
            self._check_jwt(token)
            return
        expiry = self._issued.get(token)
        if expiry is None:
            raise Unauthenticated("unknown or revoked token")
        if expiry <= time.time():
            del self._issued[token]
            raise Unauthenticated("token expired")

    def _check_jwt(self, token: str) -> None:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated("malformed JWT") from exc
        if header.get("alg") != "HS256":
            raise Unauthenticated("JWT must be signed with HS256")
        try:
            claims = jwt.decode(
                token,
                self.api_secret,
                algorithms=["HS256"],
                options={"require": ["exp", "iat", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("JWT expired") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthenticated(f"JWT lacks the {exc.claim} claim") from exc
        except jwt.InvalidSignatureError as exc:
            raise Unauthenticated("JWT signature does not verify") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated("invalid JWT") from exc
        if claims.get("sub") != self.api_key:
            raise Unauthenticated("JWT sub is not a known API key")
        if (
            not isinstance(claims.get("iat"), int | float)
            or claims["exp"] - claims["iat"] > MAX_JWT_LIFETIME
        ):
            raise Unauthenticated(f"JWT lifetime exceeds {MAX_JWT_LIFETIME} seconds")
