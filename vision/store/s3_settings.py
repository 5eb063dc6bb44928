"""Build the S3 reference store from settings (bucket, endpoint, region, credentials, timeouts).

Kept apart from :mod:`vision.store.s3` (the store itself): this is where the
settings are read and boto3's client is configured.
"""

from __future__ import annotations

from collections.abc import Mapping

from vision.core.settings import number, text
from vision.store.base import StoreConfigError
from vision.store.s3 import DEFAULT_PREFIX, DEFAULT_PRESIGN_EXPIRY_S, S3ReferenceStore

__all__ = ["DEFAULT_CONNECT_TIMEOUT_S", "DEFAULT_MAX_ATTEMPTS", "DEFAULT_READ_TIMEOUT_S", "s3_store_from_settings"]

# Short timeouts and few attempts: a demo page should say "store unreachable"
# within seconds instead of hanging for botocore's default 60 s x 5 attempts.
DEFAULT_CONNECT_TIMEOUT_S = 3.0
DEFAULT_READ_TIMEOUT_S = 10.0
DEFAULT_MAX_ATTEMPTS = 2


def s3_store_from_settings(settings: Mapping[str, str]) -> S3ReferenceStore:
    """Build an :class:`S3ReferenceStore` and its boto3 client from settings.

    Parameters
    ----------
    settings : Mapping[str, str]
        Usually ``os.environ`` merged with Streamlit secrets (see
        :func:`vision.core.settings.load_settings`).  Read:

        - ``VISION_S3_BUCKET`` (required)
        - ``VISION_S3_REGION`` (else ``AWS_REGION`` / ``AWS_DEFAULT_REGION``,
          else boto3's default)
        - ``VISION_S3_ENDPOINT_URL`` (MinIO or another S3-compatible
          service; path-style addressing is used with it)
        - ``VISION_S3_PREFIX`` (default ``references/``)
        - ``VISION_S3_PRESIGN_EXPIRY`` seconds (default 3600)
        - ``VISION_S3_CONNECT_TIMEOUT``, ``VISION_S3_READ_TIMEOUT`` seconds and
          ``VISION_S3_MAX_ATTEMPTS`` (total tries, first included; defaults
          3, 10, 2)
        - ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
          ``AWS_SESSION_TOKEN``: used when given (id and secret together),
          otherwise boto3's default credential chain (profile, SSO, role...).

    Returns
    -------
    S3ReferenceStore

    Raises
    ------
    StoreConfigError
        Missing bucket, half-given credentials, malformed numbers or endpoint.
    """
    # Imported here so the local store works without boto3 installed.
    import boto3
    from botocore.config import Config

    bucket = text(settings, "VISION_S3_BUCKET")
    if bucket is None:
        raise StoreConfigError(
            "VISION_STORE is 's3' but VISION_S3_BUCKET is not set (set it in the environment or in Streamlit secrets)"
        )
    endpoint_url = text(settings, "VISION_S3_ENDPOINT_URL")
    if endpoint_url is not None and not endpoint_url.startswith(("http://", "https://")):
        raise StoreConfigError(f"VISION_S3_ENDPOINT_URL must start with http:// or https://, got {endpoint_url!r}")
    region = text(settings, "VISION_S3_REGION") or text(settings, "AWS_REGION") or text(settings, "AWS_DEFAULT_REGION")
    key_id = text(settings, "AWS_ACCESS_KEY_ID")
    secret = text(settings, "AWS_SECRET_ACCESS_KEY")
    token = text(settings, "AWS_SESSION_TOKEN")
    if (key_id is None) != (secret is None):
        # Name the missing one, never echo the present one.
        missing = "AWS_SECRET_ACCESS_KEY" if secret is None else "AWS_ACCESS_KEY_ID"
        raise StoreConfigError(f"{missing} is not set but its partner is; set both or neither")
    config = Config(
        connect_timeout=number(
            settings, "VISION_S3_CONNECT_TIMEOUT", DEFAULT_CONNECT_TIMEOUT_S, error=StoreConfigError
        ),
        read_timeout=number(settings, "VISION_S3_READ_TIMEOUT", DEFAULT_READ_TIMEOUT_S, error=StoreConfigError),
        retries={
            # total_max_attempts counts the first try; "max_attempts" would
            # count only retries (one more request than intended).
            "total_max_attempts": number(
                settings, "VISION_S3_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS, integer=True, error=StoreConfigError
            ),
            "mode": "standard",
        },
        signature_version="s3v4",
        # Virtual-host addressing needs DNS for <bucket>.<host>; MinIO and
        # other self-hosted endpoints usually only serve path-style.
        s3={"addressing_style": "path"} if endpoint_url else {},
    )
    # A private Session, not boto3.client(): the default session is shared
    # module state and not thread-safe to create.
    session = boto3.session.Session(
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        aws_session_token=token if key_id else None,
        region_name=region,
    )
    client = session.client("s3", endpoint_url=endpoint_url, config=config)
    return S3ReferenceStore(
        client,
        bucket,
        prefix=settings.get("VISION_S3_PREFIX", DEFAULT_PREFIX) or "",
        presign_expiry_s=number(
            settings, "VISION_S3_PRESIGN_EXPIRY", DEFAULT_PRESIGN_EXPIRY_S, integer=True, error=StoreConfigError
        ),
    )
