"""Errors a user can cause and fix; the CLI and app show their message, never a traceback."""

from __future__ import annotations


class ClaimLensError(Exception):
    """Base of all user-facing errors: `str(error)` is a complete, one-line explanation."""


class PermissionDenied(ClaimLensError):
    pass


class NotFound(ClaimLensError):
    pass


class InvalidInput(ClaimLensError):
    pass
