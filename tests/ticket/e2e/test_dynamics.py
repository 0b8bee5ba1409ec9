"""What only Dynamics 365 has (issue 13 item 5), against the real
ticket-service with CALLBUS_CRM=dynamics and the Dynamics emulator:

  * the national look-up form (R-I2): a contact stored as 06XXXXXXXX is
    found for +3906XXXXXXXX with CALLBUS_CRM_LOOKUP_FORM=national;
  * the pops of R-P3 with pop-service asking this ticket-service's IVR
    look-up: a known customer with no case pops the contact form, an
    unknown caller the Dynamics new-case form, then the case form;
  * the Entra ID token expiring mid-stream: events keep flowing, one token
    fetch, nothing lost or doubled;
  * a $batch whose one change set fails: the others applied once, the
    failed one retried, nothing doubled (R-B3/R-B5 on change sets);
  * a mapped custom field whose column the incident lacks (R-T9): reported
    on the case, never written;
  * a withheld-number call with no CALLBUS_DYNAMICS_WITHHELD_CONTACT (a
    case needs a customer): dead-lettered on ticket-service.dlq, its
    partition moves on, and the replay tool puts it back (issue 19 item 4).

The scenarios Zendesk and Dynamics share are in test_inbound/test_outbound/
test_ivr (their `dynamics` parameter). Skipped, with the reason, while
callbus-ticket has no Dynamics adapter (crm_view.crm_params)."""
import json
import os
import subprocess
import sys
import urllib.parse

import pytest

import crm_view
from e2e import (BROKERS, CRM_PARAMS, IVR_TOKEN, RUN, Call, TicketService, Topics,
                 assert_crm_requests_conform, crm_fixtures, module_prefix, new_number, one_ticket,
                 validate_with_schema, wait_comment, wait_for)

sys.path.insert(0, os.path.join(crm_view.ROOT, "tests", "pop", "e2e"))
import pop  # noqa: E402

DYNAMICS = [p for p in CRM_PARAMS if p.values == ("dynamics",)] or [pytest.param(
    "dynamics", marks=pytest.mark.skip(reason="CALLBUS_E2E_CRMS excludes dynamics"),
    id="dynamics")]

stack, _crm_defaults = crm_fixtures(
    env={"CALLBUS_IVR_TOKEN": IVR_TOKEN, "CALLBUS_IVR_CACHE_S": "0"}, params=DYNAMICS)


_landlines = iter(range(1, 10000))


def new_rome_number():
    """+39 06 RRRR NNNN: a Rome landline (valid in the national plan), whose
    national form keeps the trunk 0: 06RRRRNNNN."""
    return "+3906%s%04d" % (RUN[:4], next(_landlines))


# ------------------------------------------------------------------ R-I2

def test_R_I2_contact_stored_in_national_form_is_found(stack):
    """A contact stored as 0612345678 (telephone1) is the one a call from
    +390612345678 goes on: looked up in the national form, no contact added."""
    number = new_rome_number()
    national = number[3:]
    assert national.startswith("06")
    contact = stack.crm.seed_contact("Giulia Bianchi", number)
    assert contact["phones"] == [national]
    mark = stack.crm.mark()
    call = Call(number=number)
    stack.produce(call.answered(stack.agent1))
    t = one_ticket(stack.crm, call)
    assert t["requester"] == contact["id"]
    assert [c["id"] for c in stack.crm.contacts_with_phone(number)] == [contact["id"]]
    [look] = stack.crm.lookups(mark, number)
    flt = look["query_params"]["$filter"]
    assert f"'{national}'" in flt and number not in flt and "telephone1" in flt \
        and "mobilephone" in flt, flt  # CALLBUS_DYNAMICS_PHONE_ATTRS


def test_R_I2_contact_created_in_national_form_is_found_next_time(stack):
    """R-C2 with R-I2: a contact we create carries the number in the
    look-up form, so the next call's look-up finds it (no second contact)."""
    number = new_rome_number()
    first, second = Call(number=number, queue="billing"), Call(number=number, queue="sales")
    stack.produce(first.answered(stack.agent1))
    t1 = one_ticket(stack.crm, first)
    [made] = stack.crm.contacts_with_phone(number)
    assert number[3:] in made["phones"], made
    stack.produce(second.answered(stack.agent2))
    t2 = one_ticket(stack.crm, second)
    assert t2["requester"] == t1["requester"] == made["id"]
    assert len(stack.crm.contacts_with_phone(number)) == 1


# ------------------------------------------------------------------ R-P3

@pytest.fixture(scope="module")
def popsvc(stack, logdir):
    """pop-service on the module's topics, asking this ticket-service's IVR
    look-up (R-P2) and popping Dynamics' new-case form with no customer."""
    form = (f"{stack.emu.url}/main.aspx?pagetype=entityrecord&etn=incident"
            "&extraqs=telephone1%3D{phone}")
    s = pop.start_pop(stack.topics, f"pop-{stack.topics.prefix.rstrip('.')}", logdir,
                      "test_dynamics-pop",
                      {"CALLBUS_POP_LOOKUP_URL": stack.svc.url,
                       "CALLBUS_POP_LOOKUP_TOKEN": IVR_TOKEN,
                       "CALLBUS_POP_LOOKUP_WAIT_MS": "1000",
                       "CALLBUS_POP_NEW_CASE_URL": form})
    s.new_case_form = form.split("{phone}")[0]
    yield s
    if s.running():
        s.stop()


def hold_case_creation(stack, ms=3000):
    """The next case creation answers 503 after `ms`: the answer's pop is
    decided before the case exists (ticket-service retries the create)."""
    stack.crm.emu.configure(inject=[{"method": "POST", "path_regex": r"/incidents$",
                                     "status": 503, "delay_ms": ms}])


def test_R_P3_known_customer_without_case_pops_the_contact_then_the_case(stack, popsvc):
    agent = stack.agent1
    contact = stack.crm.seed_contact("Paola Neri", new_rome_number(), email="paola@example.com")
    number = "+39" + contact["phones"][0]
    sse = popsvc.stream(popsvc.agent(agent["crm_id"], agent["provider_id"]))
    call = Call(number=number)
    stack.produce(call.offered(agent))
    ring = sse.wait_kind(call, "incoming")  # R-P2, from ticket-service's look-up
    pop.check_pop(ring)
    assert ring["caller"]["known"] and ring["caller"]["name"] == "Paola Neri"
    assert ring["crm_url"] == stack.crm.contact_url(contact["id"])
    hold_case_creation(stack)
    stack.produce(call.answered(agent))
    prof = sse.wait_kind(call, "profile")  # R-P3: a customer, no case yet
    pop.check_pop(prof)
    assert prof["crm_url"] == stack.crm.contact_url(contact["id"])
    t = one_ticket(stack.crm, call, timeout=30)
    tp = sse.wait_kind(call, "ticket", timeout=30)  # then the case form
    assert tp["crm_url"] == stack.crm.ticket_url(t["id"])
    assert tp["ticket"]["id"] == t["id"] and tp["ticket"]["status"] == "open"
    sse.close()


def test_R_P3_unknown_caller_pops_the_new_case_form_then_the_case(stack, popsvc):
    agent = stack.agent2
    sse = popsvc.stream(popsvc.agent(agent["crm_id"], agent["provider_id"]))
    call = Call(number=new_number())
    hold_case_creation(stack)
    stack.produce(call.answered(agent))
    first = sse.wait_kind(call, "new_case")  # R-P3: no customer
    pop.check_pop(first)
    assert first["crm_url"].startswith(popsvc.new_case_form), first["crm_url"]
    assert urllib.parse.quote(call.number, safe="") in first["crm_url"]
    t = one_ticket(stack.crm, call, timeout=30)
    tp = sse.wait_kind(call, "ticket", timeout=30)
    assert tp["crm_url"] == stack.crm.ticket_url(t["id"])
    assert "etn=incident&id=" in tp["crm_url"]
    sse.close()


# --------------------------------------------------------- token expiry

def test_token_expiry_mid_stream_one_refetch_nothing_lost(stack):
    """Entra ID's token expires while calls keep coming (the emulator's
    expire_tokens): the refused requests get one token fetch between them
    (crm_dyn_token drops exactly the refused token) and are sent again;
    every call has its case and its summary exactly once."""
    stack.svc.wait_idle()
    calls = [Call() for _ in range(12)]
    for c in calls[:6]:
        stack.produce(c.answered(stack.agent1))
    def first_six_announced():  # one read of ticket-events per poll
        announced = {v.get("call_id") for _, v in stack.topics.ticket_events()}
        return all(c.call_id in announced for c in calls[:6])
    wait_for(first_six_announced, 30, interval=0.5, what="the first six cases")
    mark = stack.crm.mark()
    stack.crm.expire_tokens()
    ended = [c.ended(agent=stack.agent1) for c in calls[:6]]
    stack.produce(*ended, *[c.answered(stack.agent2) for c in calls[6:]])
    stack.produce(*[c.ended(agent=stack.agent2) for c in calls[6:]])
    for c in calls:
        t = one_ticket(stack.crm, c, timeout=30)
        wait_comment(stack.crm, t["id"], "Call summary", timeout=30)
    stack.svc.wait_idle()
    refused = [e for e in stack.crm.requests(mark) if e["kind"] == "api" and e["status"] == 401]
    assert refused, "no request met the expired token: the test expired nothing"
    fetches = [e for e in stack.crm.token_fetches(mark) if e["status"] == 200]
    assert len(fetches) == 1, f"{len(fetches)} token fetches after the expiry, not one"
    for c in calls:
        assert len(stack.crm.tickets_of_call(c.call_id)) == 1
    for ev in ended:
        assert stack.crm.marker_count(ev["event_id"]) == 1
    assert stack.svc.metric("ticket_crm_auth_failing") == 0
    assert stack.svc._http_status("/readyz", admin=True) == 200


# ----------------------------------------------------------------- $batch

def test_batch_one_failed_change_set_is_retried_the_others_applied_once(stack):
    """Three calls end in one batch window: one $batch, a change set per
    case (note + status). The emulator fails the middle case's update (the
    change set rolls back, the others apply). The failed change set is
    sent again and applies; no note or status change is written twice."""
    calls = [Call() for _ in range(3)]
    stack.produce(*[c.answered(stack.agent1) for c in calls])
    cases = [one_ticket(stack.crm, c, timeout=20) for c in calls]
    stack.svc.wait_idle()
    failing = cases[1]["id"]
    stack.crm.emu.configure(inject=[{"method": "PATCH", "path_regex": failing, "status": 503}])
    mark = stack.crm.mark()
    ended = [c.ended(agent=stack.agent1) for c in calls]
    stack.produce(*ended)
    for t in cases:
        wait_for(lambda t=t: stack.crm.ticket(t["id"])["status"] == "pending", 30,
                 what=f"case {t['id']} pending")
    stack.svc.wait_idle()
    for ev in ended:
        assert stack.crm.marker_count(ev["event_id"]) == 1, ev["event_id"]
    assert stack.crm.emu.store.inject_rules == [], "the failure was never injected"
    batches = [e for e in stack.crm.requests(mark)
               if e["kind"] == "api" and e["path"].endswith("/$batch")]
    assert batches, "the three ends were not sent as a $batch"
    first = batches[0]
    assert all(t["id"] in first["body"] for t in cases), "not one change set per case"
    # Applied by the first $batch: the change sets before the failed one,
    # and with odata.continue-on-error those after it too (the rest is not
    # run and goes into the next flush: docs/dynamics.md, R-B3).
    order = sorted((t["id"] for t in cases), key=first["body"].index)
    keeps_going = "odata.continue-on-error" in (first["headers"].get("prefer") or "")
    at = order.index(failing)
    applied = order[:at] + (order[at + 1:] if keeps_going else [])
    later = [e for e in stack.crm.writes(mark) if e["seq"] > first["seq"]]

    def sent_again(tid):
        return any(tid in str(e["body"]) or tid in e["path"] for e in later)
    assert sent_again(failing), "the failed change set was not sent again"
    for tid in applied:
        assert not sent_again(tid), f"case {tid} was applied by the first $batch, sent again"
    for tid in set(order) - set(applied):
        assert sent_again(tid), f"case {tid} was not run by the first $batch, nor later"


# ------------------------------------------------------ dead letters

def dead_letters(stack, event_id):
    """The entries for event_id on <prefix>ticket-service.dlq so far."""
    proc = subprocess.run(
        ["kcat", "-b", BROKERS, "-C", "-t", stack.topics.prefix + "ticket-service.dlq",
         "-o", "beginning", "-e", "-J", "-q"], text=True, capture_output=True, timeout=60)
    if proc.returncode != 0:  # the topic may not have a message yet
        return []
    out = []
    for line in proc.stdout.splitlines():
        if line.strip():
            msg = json.loads(line)
            entry = json.loads(msg["payload"])
            if entry.get("event_id") == event_id:
                out.append((msg.get("key"), entry))
    return out


def produce_to_partition(stack, partition, ev):
    """An event onto one partition of call-events, keyed as ingest keys it."""
    key = ev.get("customer_number") or ev["call_id"]
    proc = subprocess.run(
        ["kcat", "-b", BROKERS, "-P", "-t", stack.topics.call_events, "-p", str(partition),
         "-K", "|", "-X", "acks=all"], input=f"{key}|{json.dumps(ev)}\n", text=True,
        capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_withheld_call_without_placeholder_is_dead_lettered_and_its_partition_moves_on(stack):
    """Issue 19 item 4: a case needs a customer and a withheld number has no
    contact; with no CALLBUS_DYNAMICS_WITHHELD_CONTACT the adapter refuses
    it. It used to be retried for ever, holding its partition. Now: one
    dead letter (valid for its schema, saying why), the next call of that
    partition gets its case, the metric counts it; replayed with the tool,
    the event goes back to call-events and, the cause unfixed, is
    dead-lettered again."""
    withheld = Call(withheld=True)
    answered = withheld.answered(stack.agent1)
    stack.produce(answered)
    [(key, letter)] = wait_for(lambda: dead_letters(stack, answered["event_id"]), 30,
                               what="the withheld call's dead letter")
    validate_with_schema("ticket-dlq-entry.schema.json", letter)
    assert key == withheld.call_id
    assert letter["decision"] == "permanent"
    assert letter["crm"]["http_status"] == 0  # refused before any request
    assert "CALLBUS_DYNAMICS_WITHHELD_CONTACT" in letter["crm"]["answer"]
    assert letter["source"]["topic"] == stack.topics.call_events
    assert letter["source"]["key"] == withheld.call_id
    assert letter["event"]["event_id"] == answered["event_id"]
    assert letter["event"]["call_id"] == withheld.call_id

    after = Call()
    produce_to_partition(stack, letter["source"]["partition"], after.answered(stack.agent1))
    one_ticket(stack.crm, after, timeout=30)
    assert stack.svc.metric('ticket_events_dead_lettered_total{decision="permanent"}') >= 1

    tool = os.path.join(crm_view.ROOT, "deploy", "tools", "callbus-dlq-replay")
    env = dict(os.environ, CALLBUS_TOPIC_PREFIX=stack.topics.prefix)
    dry = subprocess.run([sys.executable, tool, "--brokers", BROKERS, "--ticket", "--dry-run",
                          "--match", withheld.call_id], env=env, text=True, capture_output=True,
                         timeout=120)
    assert dry.returncode == 0 and dry.stdout.count("would replay") == 1, dry.stdout + dry.stderr
    run = subprocess.run([sys.executable, tool, "--brokers", BROKERS, "--ticket",
                          "--match", withheld.call_id], env=env, text=True, capture_output=True,
                         timeout=120)
    assert run.returncode == 0 and run.stdout.startswith("stored"), run.stdout + run.stderr
    wait_for(lambda: len(dead_letters(stack, answered["event_id"])) == 2, 30,
             what="the replayed event dead-lettered again")


def test_withheld_call_with_a_placeholder_contact_gets_its_case(stack, logdir):
    """Issue 19 item 4, the decision: with CALLBUS_DYNAMICS_WITHHELD_CONTACT
    set, a withheld-number call's case is made for that contact (as Zendesk
    makes the API user the requester), nothing dead-lettered. Its own
    ticket-service on topics of its own, the same emulator."""
    placeholder = stack.crm.seed_contact("Withheld number", new_rome_number())
    topics = Topics(module_prefix())
    view = crm_view.DynamicsView(stack.emu, ticket_events=topics.ticket_events)
    svc = TicketService(stack.emu, topics, f"ticket-e2e-{topics.prefix.rstrip('.')}", logdir,
                        "test_dynamics-withheld", {
                            "CALLBUS_DYNAMICS_WITHHELD_CONTACT": placeholder["id"]},
                        crm_env=view.service_env())
    svc.start()
    try:
        call = Call(withheld=True)
        topics.produce(call.answered(stack.agent1))
        t = one_ticket(view, call, timeout=30)
        assert t["requester"] == placeholder["id"]
        assert svc.metric('ticket_events_dead_lettered_total{decision="permanent"}') == 0
    finally:
        svc.stop()


def test_R_T9_a_column_the_incident_lacks_is_reported_on_the_case(stack, logdir):
    """R-T9 on Dynamics (issue 23 item 1): CALLBUS_TICKET_FIELDS naming a
    column the incident table lacks is found in the table's metadata at
    start-up (logged), the column is never written (no 400 from Dataverse)
    and the case says which field found no column; the other mapped
    columns are written. Its own ticket-service, the same emulator."""
    topics = Topics(module_prefix())
    view = crm_view.DynamicsView(stack.emu, ticket_events=topics.ticket_events)
    svc = TicketService(stack.emu, topics, f"ticket-e2e-{topics.prefix.rstrip('.')}", logdir,
                        "test_dynamics-missing-column", {
                            "CALLBUS_TICKET_FIELDS": "call_duration=new_nosuchcolumn,"
                                                     "queue_name=new_queuename"},
                        crm_env=view.service_env())
    mark = stack.crm.mark()
    svc.start()
    try:
        call = Call(queue="support")
        topics.produce(call.answered(stack.agent1),
                       call.ended(agent=stack.agent1, durations={"talk_s": 60, "total_s": 61}))
        t = one_ticket(view, call, timeout=30)
        t = wait_comment(view, t["id"], "No field found for call_duration (new_nosuchcolumn).")
        t = wait_for(lambda: (lambda c: c if c["fields"].get(crm_view.FIELD_MAP[4][1]) else None)(
            view.ticket(t["id"])), what="the queue column written")
        assert t["fields"] == {crm_view.FIELD_MAP[4][1]: "support"}
        with open(svc.logpath, encoding="utf-8", errors="replace") as f:
            assert "names fields the CRM does not have: call_duration (new_nosuchcolumn)" in f.read()
        api = [e for e in stack.emu.requests(mark) if e["kind"] == "api"]
        assert any("EntityDefinitions(LogicalName='incident')/Attributes" in e["path"] for e in api)
        assert not [e for e in api if e["status"] == 400], "a column the table lacks was written"
    finally:
        svc.stop()


def test_unacknowledged_pop_has_no_channel_in_dynamics(stack):
    """Issue 22 item 4: Dynamics 365 has no API that shows a record to an
    agent, so pop-service's pop.unacknowledged is counted no_channel, its
    offset moves on, and no request reaches the CRM for it."""
    counter = 'ticket_pop_fallback_total{result="no_channel"}'
    before = stack.svc.metric(counter)
    mark = len(stack.emu.requests())
    case_id = "00000000-0000-4000-8000-00000000a001"
    action = {"schema_version": 1, "action_id": f"unack-{RUN}-dyn",
              "action": "pop.unacknowledged", "call_id": f"call-{RUN}-dyn",
              "agent_crm_id": stack.agent1["crm_id"], "ticket_id": case_id,
              "pop_id": f"call-{RUN}-dyn:ticket:{case_id}:{stack.agent1['crm_id']}",
              "pop_kind": "ticket", "occurred_at": "2026-01-01T00:00:00Z"}
    validate_with_schema("agent-action.schema.json", action)
    proc = subprocess.run(["kcat", "-b", BROKERS, "-P", "-t", stack.topics.prefix + "agent-actions",
                           "-K", "|"], input=f"{action['call_id']}|{json.dumps(action)}\n",
                          text=True, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    wait_for(lambda: stack.svc.metric(counter) - before == 1, 20, what="counted no_channel")
    assert not [r for r in stack.emu.requests()[mark:] if case_id in r["path"]]


def test_zz_every_request_conforms(stack):
    stack.svc.wait_idle()
    assert_crm_requests_conform(stack)
