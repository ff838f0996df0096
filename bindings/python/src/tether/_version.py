"""The package version, sent to the daemon in the handshake."""

__version__ = "0.1.0"
