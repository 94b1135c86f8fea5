"""Errors a person may read: each message is one sentence naming the pin and what is wrong.

gpiozero's own exceptions carry reprs of internal objects; the translation below keeps the
original exception as ``__cause__`` for logs but shows only a plain sentence.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from gpiozero.exc import (
    GPIOPinInUse,
    GPIOZeroError,
    PinFixedPull,
    PinInvalidPin,
    PinInvalidPull,
    PinInvalidState,
)

PinId = int | str


class GpioError(Exception):
    """Base of every error raised by ``drivers.gpio``."""


class UnknownPinFactoryError(GpioError):
    """The configured pin factory name is not one we know."""


class PinFactoryUnavailableError(GpioError):
    """The pin factory is known but its library is missing or it cannot start here."""


class PinInUseError(GpioError):
    """The pin is already claimed by another device on the same pin factory."""


class PinConfigError(GpioError):
    """The pin does not exist or cannot be set up the way it was asked."""


def pin_label(pin: PinId) -> str:
    """Name a pin the way the wiring doc does (BCM numbers as ``GPIO17``)."""
    return f"GPIO{pin}" if isinstance(pin, int) else str(pin)


def _from_low_level_library(exc: BaseException) -> bool:
    # lgpio and RPi.GPIO raise their own classes for "GPIO busy" and the like; we
    # match by module so that neither library has to be importable here.
    module = type(exc).__module__ or ""
    return module.split(".")[0] in {"lgpio", "RPi"}


@contextmanager
def opening(role: str, pin: PinId) -> Iterator[None]:
    """Translate errors raised while opening ``pin`` for ``role`` into one-sentence GpioErrors."""
    where = f"{pin_label(pin)} for the {role}"
    try:
        yield
    except GpioError:
        raise
    except GPIOPinInUse as exc:
        raise PinInUseError(f"{where} is already in use by another device.") from exc
    except PinInvalidPin as exc:
        raise PinConfigError(f"{where} is not a valid GPIO pin on this board.") from exc
    except PinFixedPull as exc:
        raise PinConfigError(
            f"{where} has a fixed pull resistor on the board, so its pull cannot be changed."
        ) from exc
    except (PinInvalidPull, PinInvalidState) as exc:
        raise PinConfigError(f"{where} has an invalid pull or active-level setting.") from exc
    except (GPIOZeroError, OSError) as exc:
        raise GpioError(f"{where} could not be opened ({_short(exc)}).") from exc
    except Exception as exc:
        if _from_low_level_library(exc):
            raise GpioError(f"{where} could not be opened ({_short(exc)}).") from exc
        raise


def _short(exc: BaseException) -> str:
    text = str(exc).strip().rstrip(".") or type(exc).__name__
    return text.splitlines()[0]
