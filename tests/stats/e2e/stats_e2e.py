"""callbus-stats as a test process, for tests/stats/e2e and the whole
product's scenarios (tests/system/e2e/whole.py): the process helpers are
tests/ticket/e2e/e2e.py's TicketService (imported, not copied)."""
import os

from e2e import ROOT, TicketService


class StatsService(TicketService):
    SERVICE = "stats"
    BIN_ENV = "CALLBUS_STATS_BIN"
    DEFAULT_BIN = os.path.join(ROOT, "build", "test", "services", "stats", "callbus-stats")

    def __init__(self, topics, group, logdir, name, env=None):
        super().__init__(None, topics, group, logdir, name, env=None, crm_env={})
        self.env = {k: v for k, v in self.env.items() if not k.startswith("CALLBUS_TICKET")}
        self.env.update({"CALLBUS_STATS_GROUP": group, "CALLBUS_STATS_RETRY_MS": "100"})
        self.env.update(env or {})

    def events(self):
        """stats_events_total summed over topics, by result."""
        out = {}
        for name, v in self.metrics().items():
            if name.startswith("stats_events_total{"):
                result = name.split('result="')[1].split('"')[0]
                out[result] = out.get(result, 0) + v
        return out

    def idle(self):
        return self.metrics().get("stats_events_in_flight", 1) == 0
