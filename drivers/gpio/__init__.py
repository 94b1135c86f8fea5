"""GPIO devices of the guard post: the parking-lamp relay (with optional feedback) and the
radio's COS / PTT lines, plus a simulator for running without a Raspberry Pi.

Every device takes an explicit ``pin_factory`` built by ``make_pin_factory``; nothing here
touches gpiozero's process-wide default factory. See docs/gpio.md for pins and wiring.
"""

from .clock import Clock, ManualClock, monotonic
from .errors import (
    GpioError,
    PinConfigError,
    PinFactoryUnavailableError,
    PinInUseError,
    UnknownPinFactoryError,
)
from .factory import FACTORY_NAMES, make_mock_factory, make_pin_factory
from .lamp import LampRelay
from .lines import LineChange, LineMonitor
from .pinout import COS, DEFAULT_PINOUT, PTT, GpioPinout, LineSpec
from .poller import PollLoop
from .simulator import GpioSimulator, SimLamp, cli

__all__ = [
    "COS",
    "DEFAULT_PINOUT",
    "FACTORY_NAMES",
    "PTT",
    "Clock",
    "GpioError",
    "GpioPinout",
    "GpioSimulator",
    "LampRelay",
    "LineChange",
    "LineMonitor",
    "LineSpec",
    "ManualClock",
    "PinConfigError",
    "PinFactoryUnavailableError",
    "PinInUseError",
    "PollLoop",
    "SimLamp",
    "UnknownPinFactoryError",
    "cli",
    "make_mock_factory",
    "make_pin_factory",
    "monotonic",
]
