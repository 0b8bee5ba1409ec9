"""A pop its agent did not acknowledge (R-P5, issue 22 item 4) is shown
through the CRM's own channel: pop-service sends pop.unacknowledged on
agent-actions, ticket-service calls Zendesk Talk Partner Edition's "open
ticket / user profile in agent's browser" (the emulator records displays).

Zendesk only: Dynamics 365 has no display API (there the fallback is off,
CALLBUS_TICKET_POP_FALLBACK=false, counted no_channel)."""
import json
import os
import subprocess
import sys
import time

import pytest

import crm_view
from e2e import (BROKERS, CRM_PARAMS, Call, assert_crm_requests_conform, crm_fixtures, one_ticket,
                 wait_for)

sys.path.insert(0, os.path.join(crm_view.ROOT, "tests", "pop", "e2e"))
import pop  # noqa: E402

ZENDESK = [p for p in CRM_PARAMS if p.values == ("zendesk",)] or [pytest.param(
    "zendesk", marks=pytest.mark.skip(reason="CALLBUS_E2E_CRMS excludes zendesk"), id="zendesk")]

stack, _crm_defaults = crm_fixtures(params=ZENDESK)
DISPLAYED = 'ticket_pop_fallback_total{result="displayed"}'


@pytest.fixture(scope="module")
def popsvc(stack, logdir):
    """pop-service on the module's topics, acknowledgements due within 1 s."""
    s = pop.start_pop(stack.topics, f"pop-{stack.topics.prefix.rstrip('.')}", logdir,
                      "test_pop_fallback-pop",
                      {"CALLBUS_POP_ACK_TIMEOUT_MS": "1000", "CALLBUS_POP_ACK_SWEEP_MS": "100"})
    yield s
    if s.running():
        s.stop()


def displays(stack, kind, agent, record_id):
    key = "ticket_id" if kind == "ticket" else "user_id"
    return [d for d in stack.emu.store.displays if d["kind"] == kind
            and d["agent_id"] == int(agent["crm_id"]) and str(d[key]) == str(record_id)]


def produce_action(stack, action):
    proc = subprocess.run(["kcat", "-b", BROKERS, "-P", "-t", stack.topics.prefix + "agent-actions",
                           "-K", "|"], input=f"{action['call_id']}|{json.dumps(action)}\n",
                          text=True, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_unacknowledged_ticket_pop_is_displayed_in_zendesk(stack, popsvc):
    """The whole way: the agent answers with no page open, ticket-service
    makes the ticket, pop-service pops it, nobody acknowledges it, and the
    ticket opens in the agent's Zendesk through Talk's display API, once."""
    agent = stack.agent1
    popsvc.agent(agent["crm_id"], agent["provider_id"])  # signed in, no page open
    shown0 = stack.svc.metric(DISPLAYED)
    call = Call()
    stack.produce(call.answered(agent))
    t = one_ticket(stack.crm, call)
    wait_for(lambda: displays(stack, "ticket", agent, t["id"]), 30,
             what="the unacknowledged ticket displayed to the agent")
    time.sleep(1.5)  # sweeps go on: no second fallback
    assert len(displays(stack, "ticket", agent, t["id"])) == 1
    assert stack.svc.metric(DISPLAYED) - shown0 == 1
    assert popsvc.metric('pop_fallback_total{result="sent"}') >= 1


def test_unacknowledged_profile_pop_displays_the_user(stack):
    """A profile pop (a known customer, no ticket yet) falls back to Talk's
    "open a user's profile"; a replayed message displays again, harmlessly."""
    agent = stack.agent2
    user = stack.crm.seed_contact("Profile Fallback", f"+3902{pop.RUN[:4]}7788")
    action = {"schema_version": 1, "action_id": f"unack-{pop.RUN}-profile",
              "action": "pop.unacknowledged", "call_id": f"call-{pop.RUN}-profile",
              "agent_crm_id": agent["crm_id"], "contact_id": user["id"],
              "pop_id": f"call-{pop.RUN}-profile:profile:{agent['crm_id']}", "pop_kind": "profile",
              "occurred_at": "2026-01-01T00:00:00Z"}
    pop.e2e.validate_with_schema("agent-action.schema.json", action)
    produce_action(stack, action)
    wait_for(lambda: displays(stack, "user", agent, user["id"]), 20,
             what="the contact's profile displayed to the agent")
    produce_action(stack, action)
    wait_for(lambda: len(displays(stack, "user", agent, user["id"])) == 2, 20,
             what="the replay displayed again")


def test_zz_every_request_conforms(stack):
    """The display requests too validate against Zendesk's OpenAPI document."""
    stack.svc.wait_idle()
    assert_crm_requests_conform(stack)
