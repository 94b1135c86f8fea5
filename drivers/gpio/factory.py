"""Build a gpiozero pin factory from a configuration string, without touching gpiozero's globals.

Every device in this package takes the returned object through ``pin_factory=``; nothing here
sets ``gpiozero.Device.pin_factory`` or ``GPIOZERO_PIN_FACTORY``, so tests and the simulator can
run several independent factories in one process.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from gpiozero.pins import Factory
from gpiozero.pins.mock import MockFactory, MockPin

from .errors import PinFactoryUnavailableError, UnknownPinFactoryError

# Module and class per name. Real factories are imported only when chosen: lgpio creates a
# FIFO in the working directory at import, and RPi.GPIO refuses to import off a Pi.
_REAL_FACTORIES: dict[str, tuple[str, str, str]] = {
    "lgpio": ("gpiozero.pins.lgpio", "LGPIOFactory", "lgpio"),
    "rpigpio": ("gpiozero.pins.rpigpio", "RPiGPIOFactory", "RPi.GPIO"),
    "native": ("gpiozero.pins.native", "NativeFactory", "gpiozero"),
}

# The mock board is a Pi 3B (gpiozero's default); fixed here so an environment variable
# cannot swap the pin class or board under a test.
MOCK_REVISION = "a02082"

FACTORY_NAMES: tuple[str, ...] = ("mock", *_REAL_FACTORIES)


def make_pin_factory(name: str) -> Factory:
    """Return a new pin factory for ``name`` (one of ``FACTORY_NAMES``, case-insensitive).

    Raises UnknownPinFactoryError for a name we do not know and PinFactoryUnavailableError
    when the factory's library is missing or it cannot open the GPIO chip here.
    """
    key = name.strip().lower()
    if key == "mock":
        return make_mock_factory()
    if key not in _REAL_FACTORIES:
        choices = ", ".join(FACTORY_NAMES)
        raise UnknownPinFactoryError(f"unknown GPIO pin factory {name!r}; use one of: {choices}.")
    return _construct(key, _load_class(key))


def make_mock_factory() -> MockFactory:
    """A fresh in-memory factory; pins live only inside this process and this object."""
    return MockFactory(revision=MOCK_REVISION, pin_class=MockPin)


def _load_class(key: str) -> Callable[[], Factory]:
    module_name, class_name, library = _REAL_FACTORIES[key]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise PinFactoryUnavailableError(
            f"GPIO pin factory {key!r} needs the Python package {library!r}, "
            "which is not installed."
        ) from exc
    return getattr(module, class_name)


def _construct(key: str, factory_class: Callable[[], Factory]) -> Factory:
    try:
        return factory_class()
    except Exception as exc:  # each library fails differently off a Pi or without /dev/gpiochip*
        reason = (str(exc).strip() or type(exc).__name__).splitlines()[0].rstrip(".")
        raise PinFactoryUnavailableError(
            f"GPIO pin factory {key!r} could not start on this machine ({reason})."
        ) from exc
