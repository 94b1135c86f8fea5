"""The uplink daemon: forwards the local log to the broker and answers ``system`` commands."""
from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any, Mapping

from edge.commands import require
from edge.mqtt import make_client
from edge.timefmt import to_utc_text
from edge.uplink import Backoff, Uplink
from edge.wakeup import WakeListener
from services.runtime import Runtime


class UplinkService:
    name = "uplink"

    def __init__(self, rt: Runtime, client_id: str | None = None) -> None:
        self.rt = rt
        cfg = rt.config.mqtt
        client_id = client_id or cfg.client_id or f"posjaga-{rt.config.site.id}-uplink"
        # A few slots beyond the event window for states, status and command answers.
        client, url = make_client(cfg, client_id, will_topic=rt.topics.status,
                                  inflight=cfg.window + 16, batching=True)
        self.url = url
        self.listener = WakeListener(rt.config.store.url)
        self.uplink = Uplink(rt.events, rt.states, client, rt.topics, rt.clock,
                             host=url.host, port=url.port, keepalive=cfg.keepalive_s,
                             window=cfg.window, poll_s=cfg.poll_s,
                             retention=timedelta(days=rt.config.store.retention_days),
                             backoff=Backoff(cfg.reconnect_min_s, cfg.reconnect_max_s),
                             router=rt.router, wake_listener=self.listener)
        rt.router.register("system", self._system_command)

    @property
    def heartbeat(self) -> float:
        """When the uplink's loop last turned (services/health.py: a hung loop stops the
        watchdog pings and systemd restarts the process)."""
        return self.uplink.last_turn

    def run(self, stop: threading.Event) -> None:
        try:
            self.uplink.run(stop)
        finally:
            self.listener.close()

    def _system_command(self, request: Mapping[str, Any]) -> dict[str, Any]:
        action = require(request, "action", str, ("ping", "backlog", "republish"))
        if action == "ping":
            return {"time": to_utc_text(self.rt.clock.now()), "site": self.rt.config.site.id}
        if action == "backlog":
            return {"backlog": self.rt.events.backlog()}
        count = len(self.rt.states.all())
        self.uplink.request_republish()
        return {"states": count}
