"""The MQTT topic tree (docs/mqtt.md): ``<base>/<site>/...``, one branch per event kind."""
from __future__ import annotations

from dataclasses import dataclass

RESERVED = frozenset({"status", "event", "state"})


@dataclass(frozen=True)
class Topics:
    base: str
    site: str

    @property
    def root(self) -> str:
        return f"{self.base}/{self.site}"

    @property
    def status(self) -> str:
        """Retained ``online``/``offline``; ``offline`` is also the uplink's last will."""
        return f"{self.root}/status"

    def event(self, kind: str) -> str:
        return f"{self.root}/event/{kind.replace('.', '/')}"

    @property
    def events(self) -> str:
        return f"{self.root}/event/#"

    def state(self, name: str) -> str:
        return f"{self.root}/state/{name}"

    @property
    def states(self) -> str:
        return f"{self.root}/state/#"

    def command(self, target: str) -> str:
        return f"{self.root}/{target}/set"

    @property
    def commands(self) -> str:
        return f"{self.root}/+/set"

    def response(self, target: str) -> str:
        return f"{self.root}/{target}/response"

    def command_target(self, topic: str) -> str | None:
        """The target of a ``<root>/<target>/set`` topic, None for anything else."""
        prefix = self.root + "/"
        if not topic.startswith(prefix) or not topic.endswith("/set"):
            return None
        target = topic[len(prefix):-len("/set")]
        if not target or "/" in target or target in RESERVED:
            return None
        return target
