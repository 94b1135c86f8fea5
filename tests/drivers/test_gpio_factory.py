"""Pin factory selection: names, missing libraries, and no process-wide state."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import gpiozero
import pytest
from gpiozero.pins.mock import MockFactory

from drivers.gpio import (
    FACTORY_NAMES,
    LampRelay,
    PinFactoryUnavailableError,
    UnknownPinFactoryError,
    make_pin_factory,
)

ROOT = Path(__file__).resolve().parents[2]


def _on_a_pi() -> bool:
    model = Path("/proc/device-tree/model")
    return model.exists() and "raspberry" in model.read_text(errors="ignore").lower()


def test_mock_factory_is_fresh_each_time() -> None:
    first, second = make_pin_factory("mock"), make_pin_factory(" Mock ")
    assert isinstance(first, MockFactory) and isinstance(second, MockFactory)
    assert first is not second
    try:
        first.pin(17).drive_high()
        assert second.pin(17).state is False
    finally:
        first.close()
        second.close()


def test_unknown_factory_names_the_choices() -> None:
    with pytest.raises(UnknownPinFactoryError) as info:
        make_pin_factory("pigpioo")
    message = str(info.value)
    assert "'pigpioo'" in message
    assert all(name in message for name in FACTORY_NAMES)
    assert "\n" not in message and "Traceback" not in message


@pytest.mark.skipif(importlib.util.find_spec("lgpio") is not None, reason="lgpio is installed")
def test_missing_lgpio_is_a_clear_error() -> None:
    with pytest.raises(PinFactoryUnavailableError, match=r"'lgpio'.*not installed"):
        make_pin_factory("lgpio")


@pytest.mark.skipif(importlib.util.find_spec("RPi") is not None, reason="RPi.GPIO is installed")
def test_missing_rpigpio_is_a_clear_error() -> None:
    with pytest.raises(PinFactoryUnavailableError, match=r"'RPi.GPIO'.*not installed"):
        make_pin_factory("rpigpio")


@pytest.mark.skipif(_on_a_pi(), reason="the native factory works on a Pi")
def test_native_off_a_pi_is_a_clear_error() -> None:
    with pytest.raises(PinFactoryUnavailableError) as info:
        make_pin_factory("native")
    assert str(info.value).startswith("GPIO pin factory 'native' could not start")
    assert "\n" not in str(info.value)


def test_no_global_pin_factory_is_set() -> None:
    before = gpiozero.Device.pin_factory
    env_before = os.environ.get("GPIOZERO_PIN_FACTORY")
    factory = make_pin_factory("mock")
    with LampRelay(17, initial_on=False, pin_factory=factory):
        pass
    assert gpiozero.Device.pin_factory is before
    assert os.environ.get("GPIOZERO_PIN_FACTORY") == env_before


def test_mock_factory_does_not_import_real_pin_libraries() -> None:
    # lgpio makes a FIFO in the working directory at import, so it must stay unimported.
    code = (
        "import sys, drivers.gpio as g\n"
        "g.make_pin_factory('mock')\n"
        "bad = [m for m in ('gpiozero.pins.lgpio', 'lgpio', 'RPi') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
