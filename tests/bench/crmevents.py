"""The CRM's webhooks, played by the benches (issue 25 item 2; used by
crm-requests and crm-capacity): ingest's CRM webhook routes are built
elsewhere, so a watcher produces the crm-events a Zendesk trigger on
"ticket created or updated" would, through kcat."""
from __future__ import annotations

import json
import subprocess
import threading

import e2e


class CrmEvents(threading.Thread):
    """Watches the emulator's callbus tickets and produces a crm-event for
    each creation and status change, as the CRM's webhook through ingest
    would; occurred_at in the run's simulated time (sim_time())."""

    def __init__(self, emu, brokers, topic, sim_time):
        super().__init__(daemon=True)
        self.emu, self.sim_time, self.seen, self.sent = emu, sim_time, {}, 0
        self.stopping = threading.Event()
        self.proc = subprocess.Popen(
            ["kcat", "-b", brokers, "-P", "-t", topic, "-K", "|", "-X", "acks=all",
             "-X", "linger.ms=5"], stdin=subprocess.PIPE, text=True, stderr=subprocess.PIPE)

    def changes(self):
        with self.emu.store.lock:
            now = [(tid, t["status"], t["requester_id"]) for tid, t in self.emu.store.tickets.items()
                   if (t.get("external_id") or "").startswith("callbus-")]
        for tid, status, requester in now:
            was = self.seen.get(tid)
            if was != status:
                self.seen[tid] = status
                yield tid, status, was, requester

    def poll(self):
        at = e2e.iso_ms(self.sim_time())
        for tid, status, was, requester in self.changes():
            self.sent += 1
            ev = {"schema_version": 1, "event_id": f"zendesk-bench-{tid}-{self.sent}",
                  "crm": "zendesk", "type": "ticket.status_changed" if was else "ticket.created",
                  "ticket_id": str(tid), "status": status, "requester_id": str(requester),
                  "occurred_at": at, "received_at": at}
            if was:
                ev["previous_status"] = was
            self.proc.stdin.write(f"{requester}|{json.dumps(ev, separators=(',', ':'))}\n")
        self.proc.stdin.flush()

    def run(self):
        while not self.stopping.wait(0.2):
            self.poll()

    def stop(self):
        self.stopping.set()
        self.join(10)
        self.poll()
        self.proc.stdin.close()
        if self.proc.wait(60) != 0:
            raise RuntimeError("kcat -P failed: " + self.proc.stderr.read()[-1000:])
