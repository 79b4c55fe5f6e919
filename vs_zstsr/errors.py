"""The one exception type that carries a user-facing message (one line, no traceback)."""


class ZstsrError(Exception):
    """Bad input or an impossible request; the CLI prints ``zstsr: error: <message>`` and exits 1."""
