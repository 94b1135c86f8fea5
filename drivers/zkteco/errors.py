"""Errors a person may see. Each message is one sentence naming the device as host:port."""
from __future__ import annotations


class DeviceError(Exception):
    """Something went wrong talking to a fingerprint machine."""

    def __init__(self, address: str, message: str) -> None:
        super().__init__(message)
        self.address = address


class DeviceLinkError(DeviceError):
    """The machine cannot be reached, stopped answering, or the connection dropped."""


class DeviceAuthError(DeviceError):
    """The machine refused the communication password."""


class DeviceProtocolError(DeviceError):
    """The machine answered something that makes no sense for the request."""
