"""The stats service's day hashes, written by a test as the stats contract
lays them out (docs/pop.md "Statistics"; issue 25 item 3): key
`<prefix>stats:d:<YYYY-MM-DD>`, field figure 0x1F kind 0x1F queue 0x1F
agent, an integer value (HINCRBY). A fixture of what the writer keeps --
not a stub of product code -- for the read side's tests (test_pop_stats.py,
test_supervisor_page.py). Far-future days under the module's own topic
prefix: nothing else writes them."""
import subprocess

import pop

DAY1, DAY2, DAY3 = "2031-03-01", "2031-03-02", "2031-03-03"
ODD_QUEUE = 'Sales, "EMEA"\nline two'

# (day, figure, kind, queue, agent, value): two agents, two queues, a
# missed call without agent, CRM requests without any dimension.
CELLS = [
    (DAY1, "calls", "inbound", "support", "361", 5),
    (DAY1, "answered", "inbound", "support", "361", 4),
    (DAY1, "calls", "outbound", "sales", "361", 2),
    (DAY1, "calls", "missed", "support", "-", 3),
    (DAY1, "missed", "missed", "support", "-", 3),
    (DAY1, "missed_grouped", "missed", "support", "-", 2),
    (DAY2, "calls", "inbound", ODD_QUEUE, "361", 1),
    (DAY2, "tickets_created", "inbound", "support", "422", 7),
    (DAY2, "reopened", "inbound", "support", "422", 1),
    (DAY2, "solved", "inbound", "support", "422", 4),
    (DAY2, "closed", "inbound", "support", "422", 2),
    (DAY2, "close_s_sum", "inbound", "support", "422", 9000),
    (DAY2, "close_n", "inbound", "support", "422", 4),
    (DAY2, "pops_delivered", "inbound", "support", "422", 9),
    (DAY2, "pops_acknowledged", "inbound", "support", "422", 8),
    (DAY2, "crm_requests", "-", "-", "-", 30),
    (DAY2, "crm_saved", "-", "-", "-", 41),
]


def field(figure, kind, queue, agent):
    return "\x1f".join((figure, kind, queue, agent))


def redis(*args):
    r = subprocess.run(["redis-cli", "-u", pop.REDIS_URL, *args], capture_output=True, text=True,
                       timeout=10, check=True)
    return r.stdout.strip()


def write(prefix):
    """Writes CELLS under prefix; returns the keys (for remove)."""
    for day, figure, kind, queue, agent, value in CELLS:
        redis("HINCRBY", f"{prefix}stats:d:{day}", field(figure, kind, queue, agent), str(value))
    return sorted({f"{prefix}stats:d:{c[0]}" for c in CELLS})


def remove(keys):
    redis("DEL", *keys)
