"""ZKTeco fingerprint machines (TCP port 4370, the protocol pyzk 0.9 speaks).

``ZKDevice`` is the real driver; ``drivers.zkteco.simulator.ZKSimulator`` is a machine on
127.0.0.1 for tests and demos (imported separately, it is not needed on the guard post).
"""
from .device import ZKConfig, ZKDevice
from .errors import DeviceAuthError, DeviceError, DeviceLinkError, DeviceProtocolError
from .models import AttendanceLog, DeviceInfo, LiveStats, MalformedRecord, Punch, User

__all__ = [
    "AttendanceLog", "DeviceAuthError", "DeviceError", "DeviceInfo", "DeviceLinkError",
    "DeviceProtocolError", "LiveStats", "MalformedRecord", "Punch", "User", "ZKConfig",
    "ZKDevice",
]
