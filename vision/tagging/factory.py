"""Pick a tagging backend from settings (environment or Streamlit secrets)."""

from __future__ import annotations

from collections.abc import Mapping

from vision.core.settings import truthy
from vision.tagging.base import Tagger, TaggerError

BACKENDS = ("local", "clarifai")
PAT_KEY = "CLARIFAI_PAT"
TIMEOUT_KEY = "CLARIFAI_TIMEOUT_S"
TARGET_KEY = "CLARIFAI_TARGET"  # host:port of the gRPC API (a proxy, or a local stand-in in tests)
INSECURE_KEY = "CLARIFAI_INSECURE"  # "true": plaintext gRPC, accepted only for a loopback target
DEFAULT_TARGET = "api.clarifai.com:443"


def clarifai_configured(settings: Mapping[str, str]) -> bool:
    """Whether a Clarifai personal access token is present and non-blank.

    Parameters
    ----------
    settings : Mapping
        ``os.environ``, Streamlit secrets, or any str -> str mapping.
    """
    value = settings.get(PAT_KEY)
    return isinstance(value, str) and bool(value.strip())


def tagger_from_settings(settings: Mapping[str, str], backend: str = "local") -> Tagger:
    """Build the tagger a caller asked for.

    Parameters
    ----------
    settings : Mapping
        Holds ``CLARIFAI_PAT`` (and optionally ``CLARIFAI_TIMEOUT_S``,
        ``CLARIFAI_TARGET``, ``CLARIFAI_INSECURE`` for a loopback stand-in) for
        the Clarifai backend; callers fill it from ``os.environ`` or
        Streamlit secrets, never from code.
    backend : {"local", "clarifai"}
        Which backend.

    Returns
    -------
    Tagger

    Raises
    ------
    ValueError
        For an unknown backend name.
    TaggerError
        When Clarifai is asked for but no token is configured.
    """
    if backend == "local":
        from vision.tagging.local import LocalTagger

        return LocalTagger()
    if backend == "clarifai":
        if not clarifai_configured(settings):
            raise TaggerError(f"Clarifai is not configured: set {PAT_KEY} in the environment or in Streamlit secrets")
        from vision.tagging.clarifai import ClarifaiTagger

        timeout = float(settings.get(TIMEOUT_KEY) or 10.0)
        target = (settings.get(TARGET_KEY) or DEFAULT_TARGET).strip()
        secure = not truthy(settings.get(INSECURE_KEY))
        if not secure and not _is_loopback(target):
            raise TaggerError(f"{INSECURE_KEY} is only allowed for a loopback target, not {target}")
        return ClarifaiTagger(settings[PAT_KEY], target=target, secure=secure, timeout_s=timeout)
    raise ValueError(f"unknown tagger backend {backend!r}; choose one of {', '.join(BACKENDS)}")


def _is_loopback(target: str) -> bool:
    host = target.rsplit(":", 1)[0].strip("[]")
    return host in ("localhost", "::1") or host.startswith("127.")
