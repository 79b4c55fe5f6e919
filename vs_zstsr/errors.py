"""The exception types that carry a user-facing message (one line, no traceback)."""


class ZstsrError(Exception):
    """Bad input or an impossible request; the CLI prints ``zstsr: error: <message>`` and exits 1."""
    exit_code = 1


class UsageError(ZstsrError):
    """A bad option value or output path (refused before any work): ``zstsr: error: ...``, exit 2."""
    exit_code = 2
