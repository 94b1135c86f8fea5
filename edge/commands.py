"""Commands on ``<root>/<target>/set``, answered on ``<root>/<target>/response``.

The answer has the shape of zigbee2mqtt's bridge responses:
``{"status": "ok"|"error", "data": {...}, "error": "one sentence", "transaction": <echoed>}``.
A malformed command is answered with an error and changes nothing; whether a client may send
it at all is the broker's ACL's business.
"""
from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Mapping

log = logging.getLogger(__name__)

MAX_COMMAND_BYTES = 16 * 1024


class CommandError(Exception):
    """A command that cannot be carried out; the message is shown to the sender as is."""


Handler = Callable[[Mapping[str, Any]], Mapping[str, Any] | None]


@dataclass(frozen=True)
class Response:
    target: str
    body: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.body["status"] == "ok"


class CommandRouter:
    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def register(self, target: str, handler: Handler) -> None:
        with self._lock:
            if target in self._handlers:
                raise ValueError(f"a handler for {target!r} is already registered")
            self._handlers[target] = handler

    @property
    def targets(self) -> list[str]:
        with self._lock:
            return sorted(self._handlers)

    def handle(self, target: str, raw: bytes) -> Response:
        """Parse, dispatch and answer; never raises."""
        transaction: Any = None
        try:
            request = _parse(raw)
            transaction = request.get("transaction")
            handler = self._handler(target)
            data = handler(request) or {}
        except CommandError as exc:
            self.counts["rejected"] += 1
            log.warning("command for %s refused: %s", target, exc)
            return Response(target, _answer("error", {}, str(exc), transaction))
        except Exception:  # a bug in a handler must not take the link down
            self.counts["failed"] += 1
            log.exception("command for %s failed", target)
            return Response(target, _answer("error", {}, f"the {target} command failed inside "
                                            "posjaga; see the service log", transaction))
        self.counts["accepted"] += 1
        return Response(target, _answer("ok", dict(data), None, transaction))

    def _handler(self, target: str) -> Handler:
        with self._lock:
            handler = self._handlers.get(target)
        if handler is None:
            known = ", ".join(self.targets) or "none"
            raise CommandError(f"unknown command target '{target}'; known targets: {known}")
        return handler


def _parse(raw: bytes) -> dict[str, Any]:
    if len(raw) > MAX_COMMAND_BYTES:
        raise CommandError(f"the command is {len(raw)} bytes; at most {MAX_COMMAND_BYTES} "
                           "are accepted")
    try:
        request = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise CommandError("the command is not valid JSON; send an object such as "
                           '{"action": "ping"}') from None
    if not isinstance(request, dict):
        raise CommandError("the command must be a JSON object such as {\"action\": \"ping\"}")
    return request


def _answer(status: str, data: dict[str, Any], error: str | None, transaction: Any) -> dict:
    body: dict[str, Any] = {"status": status, "data": data}
    if error is not None:
        body["error"] = error
    if transaction is not None:
        body["transaction"] = transaction
    return body


def require(request: Mapping[str, Any], key: str, kind: type, choices: Any = None) -> Any:
    """A field of a command, checked; raises CommandError with one sentence otherwise."""
    if key not in request:
        raise CommandError(f"the command has no '{key}'")
    value = request[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise CommandError(f"'{key}' must be {_kind_name(kind)}, got {json.dumps(value)}")
    if choices is not None and value not in choices:
        raise CommandError(f"'{key}' must be one of {', '.join(map(str, choices))}; "
                           f"got {json.dumps(value)}")
    return value


def _kind_name(kind: type) -> str:
    return {str: "text", int: "a whole number", float: "a number", bool: "true or false",
            dict: "an object", list: "a list"}.get(kind, kind.__name__)
