"""The benchmarks' typical call mix (crm-requests, crm-capacity): calls of
each kind with their canonical events over simulated time, and a kcat
producer to play them onto call-events. Deterministic for a seed."""
from __future__ import annotations

import json
import subprocess
import time

BASE = time.time() - 86400  # event times: yesterday's busy period


QUEUES = (("billing", 0.4), ("support", 0.4), ("sales", 0.2))
KINDS = (("answered", 0.55), ("transferred", 0.10), ("missed", 0.15), ("voicemail", 0.05),
         ("abandoned", 0.05), ("outbound", 0.10))


def pick(rng, weighted):
    x, acc = rng.random(), 0.0
    for value, w in weighted:
        acc += w
        if x < acc:
            return value
    return weighted[-1][0]


def scenario(rng, n_calls, sim_minutes, n_agents):
    """[(call index, kind, customer index, queue, sim start s, plan)], and the
    customers: [{known: bool}]. Deterministic for a seed; numbers and call
    ids are given per run (Redis state of one run never meets the other)."""
    span = sim_minutes * 60.0
    customers, calls, last_queue = [], [], {}
    t = 0.0
    for i in range(n_calls):
        t += rng.expovariate(n_calls / span)
        kind = pick(rng, KINDS)
        repeat_p = 0.8 if kind == "outbound" else 0.3
        if customers and rng.random() < repeat_p:
            # recent callers call again more often
            cust = max(0, len(customers) - 1 - int(rng.expovariate(1 / 60.0)))
        else:
            cust = len(customers)
            customers.append({"known": rng.random() < 0.5})
        if cust in last_queue and rng.random() < 0.7:
            queue = last_queue[cust]
        else:
            queue = pick(rng, QUEUES)
        last_queue[cust] = queue
        plan = {"wait": rng.randint(5, 60), "talk": min(int(rng.lognormvariate(5.2, 0.6)), 600),
                "hold": rng.choice((0, 0, 0, rng.randint(10, 90))),
                "talk2": min(int(rng.lognormvariate(4.5, 0.5)), 300),
                "rec_after": rng.randint(15, 60),
                "csat": rng.random() < 0.15, "score": rng.randint(1, 5),
                "second_offer": rng.random() < 0.5, "out_answered": rng.random() < 0.7,
                "agent": rng.randrange(n_agents), "agent2": rng.randrange(n_agents)}
        calls.append((i, kind, cust, queue, t, plan))
    return customers, calls


def agent(k):
    return {"provider_id": str(7000 + k), "crm_id": str(910000 + k), "name": f"Agent {k + 1}"}


def events_of(call, kind, plan, t0, n_agents):
    """[(sim time, event)] for one call that starts at sim time t0."""
    a, b = agent(plan["agent"]), agent(plan["agent2"] if plan["agent2"] != plan["agent"]
                                         else (plan["agent"] + 1) % n_agents)
    w, talk, hold = plan["wait"], max(plan["talk"], 8), plan["hold"]
    out = []

    def at(s, ev):
        out.append((t0 + s, ev))

    def ev(type_, s, **kw):
        at(s, call.event(type_, at=BASE + t0 + s, **kw))
    if kind in ("answered", "transferred"):
        ev("call.offered", w - 2, agent=a, durations={"wait_s": w - 2},
           leg=f"{call.call_id}-offer-{a['provider_id']}")
        ev("call.answered", w, agent=a, durations={"wait_s": w}, leg=f"{call.call_id}-1")
        end_agent, end = a, w + talk + hold
        if kind == "transferred":
            ev("call.transferred", w + talk, agent=b, previous_agent=a, leg=f"{call.call_id}-2")
            end_agent, end = b, w + talk + hold + plan["talk2"]
        total = end
        ev("call.ended", end, agent=end_agent, outcome="answered",
           durations={"wait_s": w, "talk_s": end - w - hold, "hold_s": hold, "total_s": total})
        ev("call.recording_ready", end + plan["rec_after"],
           recording={"url": f"https://rec.example.com/{call.call_id}.mp3",
                      "duration_s": end - w})
        if plan["csat"]:
            ev("call.csat", end + 90, csat={"score": plan["score"], "scale": 5})
    elif kind == "missed":
        ev("call.offered", 5, agent=a, durations={"wait_s": 5},
           leg=f"{call.call_id}-offer-{a['provider_id']}")
        ev("call.leg_ended", 25, agent=a, outcome="missed",
           leg=f"{call.call_id}-offer-{a['provider_id']}")
        end = 30
        if plan["second_offer"]:
            ev("call.offered", 30, agent=b, durations={"wait_s": 30},
               leg=f"{call.call_id}-offer-{b['provider_id']}")
            ev("call.leg_ended", 50, agent=b, outcome="missed",
               leg=f"{call.call_id}-offer-{b['provider_id']}")
            end = 55
        ev("call.ended", end, outcome="missed", durations={"wait_s": end, "total_s": end})
    elif kind == "voicemail":
        ev("call.ended", w + 45, outcome="voicemail",
           durations={"wait_s": w, "total_s": w + 45},
           recording={"url": f"https://rec.example.com/{call.call_id}-vm.mp3", "duration_s": 40})
    elif kind == "abandoned":
        ev("call.ended", w, outcome="abandoned", durations={"wait_s": w, "total_s": w})
    elif kind == "outbound":
        ev("outbound.started", 0, agent=a, leg=f"{call.call_id}-placed")
        if plan["out_answered"]:
            ev("outbound.answered", 12, agent=a)
            ev("outbound.ended", 12 + talk, agent=a, outcome="answered",
               durations={"talk_s": talk, "total_s": talk + 12})
            ev("call.recording_ready", 12 + talk + plan["rec_after"], direction="outbound",
               recording={"url": f"https://rec.example.com/{call.call_id}.mp3",
                          "duration_s": talk})
        else:
            ev("outbound.ended", 30, agent=a, outcome="missed", durations={"total_s": 30})
    return out





class Producer:
    """A long-lived kcat -P fed line by line (key|value)."""

    def __init__(self, brokers, topic):
        self.proc = subprocess.Popen(
            ["kcat", "-b", brokers, "-P", "-t", topic, "-K", "|", "-X", "acks=all",
             "-X", "linger.ms=5"], stdin=subprocess.PIPE, text=True, stderr=subprocess.PIPE)

    def send(self, events):
        for ev in events:
            key = ev.get("customer_number") or ev["call_id"]
            self.proc.stdin.write(f"{key}|{json.dumps(ev, separators=(',', ':'))}\n")
        self.proc.stdin.flush()

    def close(self):
        self.proc.stdin.close()
        rc = self.proc.wait(60)
        if rc != 0:
            raise RuntimeError("kcat -P failed: " + self.proc.stderr.read()[-1000:])
