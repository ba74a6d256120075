"""The version of minidl."""

__version__ = "0.1.0"
