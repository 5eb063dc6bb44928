"""Pick a tagging backend from settings (environment or Streamlit secrets)."""

from __future__ import annotations

from collections.abc import Mapping

from vision.tagging.base import Tagger, TaggerError

BACKENDS = ("local", "clarifai")
PAT_KEY = "CLARIFAI_PAT"
TIMEOUT_KEY = "CLARIFAI_TIMEOUT_S"


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
        Holds ``CLARIFAI_PAT`` (and optionally ``CLARIFAI_TIMEOUT_S``) for
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
            raise TaggerError(f"Clarifai is not configured: set {PAT_KEY} in the environment "
                              "or in Streamlit secrets")
        from vision.tagging.clarifai import ClarifaiTagger

        timeout = float(settings.get(TIMEOUT_KEY) or 10.0)
        return ClarifaiTagger(settings[PAT_KEY], timeout_s=timeout)
    raise ValueError(f"unknown tagger backend {backend!r}; choose one of {', '.join(BACKENDS)}")
