"""Errors written for researchers: what went wrong, with which file, and what to do.

Every error the tool raises on purpose is a ``TranscribeError``; the CLI prints its message as
one plain sentence and exits with its ``exit_code``. Anything else is a bug.
"""

from __future__ import annotations


class TranscribeError(Exception):
    """Base class. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class InputError(TranscribeError):
    """A recording, map file or option the user gave cannot be used."""

    exit_code = 3


class ModelError(TranscribeError):
    """A model folder is missing, incomplete or damaged."""

    exit_code = 4


class SessionError(TranscribeError):
    """The session folder is not in a state that allows this command."""

    exit_code = 5


class PurgeError(TranscribeError):
    """Purge refused or incomplete; nothing unsafe was done."""

    exit_code = 6


class VerificationFailed(TranscribeError):
    """verify-purge found something that does not hold."""

    exit_code = 7


class DeviceError(TranscribeError):
    """The GPU asked for cannot be used (no driver, a CUDA library missing, out of GPU memory)."""

    exit_code = 8


class BatchFailed(TranscribeError):
    """A batch ran to its end, but one or more of its sessions failed (the others are done)."""

    exit_code = 9


class SlowerWarning(UserWarning):
    """The work goes on with the same results, but more slowly (the CLI prints it as one line)."""
