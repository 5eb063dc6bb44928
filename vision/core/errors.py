"""Exceptions for bad input, each specific enough to tell the user what to fix."""

from __future__ import annotations


class VisionError(Exception):
    """Base class of every error this package raises on purpose."""


class ImageInputError(VisionError, ValueError):
    """The bytes a client sent cannot be used as a photo."""


class EmptyImageError(ImageInputError):
    """No bytes at all (empty upload or empty base64 string)."""


class InvalidBase64Error(ImageInputError):
    """The text is not valid base64 (after stripping an optional data: URL prefix)."""


class NotAnImageError(ImageInputError):
    """The bytes are not a decodable JPEG, PNG or WebP image."""


class ImageTooLargeError(ImageInputError):
    """Too many bytes, or a header that claims too many pixels (decompression bomb)."""


class ImageTooComplexError(ImageTooLargeError):
    """A container that promises too much decoding work: too many scans, chunks or metadata bytes."""
