"""Inbound calls through the real pipeline: one scenario per rule situation
(BEHAVIOUR.md R-I3, R-C1..R-C4, R-T1..R-T7, R-T10..R-T12, R-M1 direct mode),
replays, ticket-events, and the conformance of every request sent.

Parameterised over the CRM (issue 13: zendesk, dynamics; crm_view.py reads
either emulator the same way); checks of Zendesk-only features (tags,
custom fields, merges, Talk's display) are marked and skipped for others.

ticket-service here: 1 s batch window, (Zendesk) custom fields mapped to
the emulator's preset fields 1001-1009, default assignee Agent Three (R-T11)."""
import json
import os

import jsonschema

from e2e import (F_CALL_ID, F_CSAT, F_DURATION, F_FROM, F_HOLD, F_QUEUE, F_SESSION_TYPE, F_WAIT,
                 OUR_NUMBER, ROOT, UNMAPPED, Call, assert_crm_requests_conform, comments_with,
                 crm_fixtures, field, new_number, one_ticket, wait_comment, wait_for,
                 zendesk_only)


def service_env(crm):
    env = {"CALLBUS_TICKET_DEFAULT_ASSIGNEE": crm.agents[2]["crm_id"]}
    if crm.name == "zendesk":
        env["CALLBUS_TICKET_CRM_DISPLAY"] = "true"  # Zendesk Talk's display API
    return env


stack, _crm_defaults = crm_fixtures(env=service_env)


# ---------------------------------------------------------------- R-T1, R-C

def test_R_T1_R_C2_answered_inbound_call_gets_ticket_assigned_to_agent(stack):
    """R-T1: subject "Call from {phone}", assigned to the answering agent (the
    event's agent.crm_id), an internal first comment with call id, language
    and menu selection; R-T9 session-start fields; R-C2 contact created."""
    call = Call(queue="billing", language="it-IT")
    stack.produce(call.offered(stack.agent1), call.answered(stack.agent1))
    t = one_ticket(stack.crm, call)
    assert t["subject"] == f"Call from {call.number}"
    assert t["assignee"] == stack.agent1["crm_id"]
    assert t["status"] == "open"
    first = t["comments"][0]
    assert first["public"] is False, "the standard data must be an internal note"
    assert f"Call ID: {call.call_id}" in first["body"]
    assert "Language: it-IT" in first["body"]
    assert "Menu selection: billing" in first["body"]
    # R-C2: no contact had the number: one was created, and requests the ticket
    users = stack.crm.contacts_with_phone(call.number)
    assert [u["id"] for u in users] == [t["requester"]]
    assert "callbus_call" in t["tags"]  # R-M1's markers; Dynamics: the marker column
    if stack.crm.name == "zendesk":  # Zendesk-only: the "callbus" tag, custom fields, user roles
        assert "callbus" in t["tags"]
        assert field(t, F_SESSION_TYPE) == "call"
        assert field(t, F_FROM) == call.number
        assert users[0]["role"] == "end-user"


def test_R_C1_R_C3_one_existing_contact_is_used(stack):
    """R-C1 look-up by phone (digits, however the CRM stored it), R-C3
    exactly one contact: the ticket is created on it, no contact is added."""
    number = new_number()
    # Zendesk: stored with spaces; Dynamics: in the look-up form (national)
    user = stack.crm.seed_contact(name="Lucia Verdi", number=number, formatted=True)
    call = Call(number=number)
    mark = stack.crm.mark()
    stack.produce(call.answered(stack.agent1))
    t = one_ticket(stack.crm, call)
    assert t["requester"] == user["id"]
    assert [u["id"] for u in stack.crm.contacts_with_phone(number)] == [user["id"]]
    assert stack.crm.lookups(mark, number), "the contact was not looked up by phone"


def test_R_C4_several_contacts_most_recently_created_is_used(stack):
    """R-C4: several contacts with the number and none picked: the ticket
    goes on the most recently created one (not the first, not the highest id)."""
    number = new_number()
    older = stack.crm.seed_contact("Old One", number, created_at="2021-03-01T10:00:00Z")
    newest = stack.crm.seed_contact("New One", number, created_at="2024-02-01T10:00:00Z")
    middle = stack.crm.seed_contact("Mid One", number, created_at="2022-05-01T10:00:00Z")
    call = Call(number=number)
    stack.produce(call.answered(stack.agent2))
    t = one_ticket(stack.crm, call)
    assert t["requester"] == newest["id"], (older["id"], newest["id"], middle["id"])
    assert len(stack.crm.contacts_with_phone(number)) == 3, "no contact may be added"


# ------------------------------------------------------------------- R-T2

def test_R_T2_same_queue_reuses_ticket_other_queue_gets_new_one(stack):
    """R-T2: the customer's open ticket of ours with the same menu selection
    and channel gets the next call; another menu selection gets its own
    ticket. R-C1: the contact is looked up once and then remembered."""
    number = new_number()
    first = Call(number=number, queue="billing")
    second = Call(number=number, queue="billing")
    third = Call(number=number, queue="sales")
    mark = stack.crm.mark()
    stack.produce(first.answered(stack.agent1), first.ended())
    t1 = one_ticket(stack.crm, first)
    wait_for(lambda: stack.crm.ticket(t1["id"])["status"] == "pending", what="first call's end")
    stack.produce(second.answered(stack.agent2), second.ended(agent=stack.agent2))
    t1 = wait_comment(stack.crm, t1["id"], "answered by Agent Two")
    t1 = wait_for(lambda: (lambda t: t if t["status"] == "pending" and
                           len(comments_with(t, "Call summary")) == 2 else None)(
        stack.crm.ticket(t1["id"])), what="second call's summary on the first ticket")
    assert stack.crm.tickets_of_call(second.call_id) == [], "R-T2: no new ticket"
    assert t1["assignee"] == stack.agent2["crm_id"]
    stack.produce(third.answered(stack.agent1))
    t3 = one_ticket(stack.crm, third)
    assert t3["id"] != t1["id"]
    if stack.crm.has_fields:
        assert field(t3, F_SESSION_TYPE) == "call"
    searches = stack.crm.lookups(mark, number)
    assert len(searches) == 1, f"contact looked up {len(searches)} times, not once"


def test_R_T2_case_a_person_made_is_not_reused_with_the_open_case_policy_off(stack):
    """R-T2 as configured by default (CALLBUS_TICKET_REUSE_OPEN_CASE false;
    issue 23 item 4): the customer's open ticket that a person made, not
    ours, does not get the answered call: a new ticket does, and the
    person's ticket is not written to. test_open_case.py has the policy on."""
    number = new_number()
    user = stack.crm.seed_contact("Elena Rosa", number)
    theirs = stack.crm.seed_ticket(subject="Opened by a person", requester=user["id"],
                                   status="open", created_at="2024-02-01T09:00:00Z")
    call = Call(number=number)
    stack.produce(call.answered(stack.agent1), call.ended())
    t = one_ticket(stack.crm, call)
    assert t["id"] != theirs["id"] and t["requester"] == user["id"]
    wait_comment(stack.crm, t["id"], "Call summary")
    assert not comments_with(stack.crm.ticket(theirs["id"]), "answered by"), "R-T2: not ours"


# ------------------------------------------------------------------- R-T3

def test_R_T3_voicemail_always_gets_a_new_ticket(stack):
    """R-T3: a voicemail makes a new ticket even though the customer has an
    open one of the same queue; R-T11: assigned to the default assignee."""
    number = new_number()
    talk = Call(number=number, queue="billing")
    stack.produce(talk.answered(stack.agent1))
    open_ticket = one_ticket(stack.crm, talk)
    vm = Call(number=number, queue="billing")
    stack.produce(vm.ended("voicemail", durations={"wait_s": 30, "total_s": 75},
                           recording={"url": f"https://rec.example.com/{vm.call_id}.mp3",
                                      "duration_s": 41}))
    t = one_ticket(stack.crm, vm)
    assert t["id"] != open_ticket["id"]
    assert t["subject"] == f"Voicemail from {number}"
    assert "callbus_voicemail" in t["tags"]  # Dynamics: the marker column
    assert t["assignee"] == stack.agent3["crm_id"]
    assert t["status"] in ("open", "new")
    assert len(stack.crm.ticket(open_ticket["id"])["comments"]) == 1, \
        "the open ticket must not get the voicemail"


# ------------------------------------------------------------------- R-T4

def test_R_T4_transfer_reassigns_the_ticket(stack):
    """R-T4 (policy reassign, the default): the ticket follows the call to
    the agent it was transferred to."""
    call = Call()
    stack.produce(call.answered(stack.agent1), call.transferred(stack.agent2, stack.agent1))
    t = one_ticket(stack.crm, call)
    t = wait_comment(stack.crm, t["id"], "Call transferred from Agent One to Agent Two")
    assert t["assignee"] == stack.agent2["crm_id"]
    stack.produce(call.ended(agent=stack.agent2))
    t = wait_comment(stack.crm, t["id"], "Call summary")
    assert t["assignee"] == stack.agent2["crm_id"]
    assert t["status"] == "pending"
    assert len(stack.crm.tickets_of_call(call.call_id)) == 1


# ------------------------------------------------------------------- R-T5

def test_R_T5_end_of_call_summary_pending_and_fields(stack):
    """R-T5: an internal summary (direction, from, to, agent, queue, wait,
    talk, hold, total), status pending, R-T9 end-of-call fields."""
    call = Call(queue="support")
    stack.produce(call.answered(stack.agent1, wait_s=20),
                  call.ended(agent=stack.agent1, durations={"wait_s": 20, "talk_s": 250,
                                                            "hold_s": 31, "total_s": 301}))
    t = one_ticket(stack.crm, call)
    t = wait_comment(stack.crm, t["id"], "Call summary")
    [summary] = comments_with(t, "Call summary")
    assert summary["public"] is False
    for line in ("Direction: inbound", f"From: {call.number}", f"To: {OUR_NUMBER}",
                 "Agent: Agent One", "Queue: support", "Wait: 20s", "Talk: 4m 10s",
                 "Hold: 31s", "Total: 5m 01s"):
        assert line in summary["body"], f"{line!r} missing from:\n{summary['body']}"
    assert t["status"] == "pending"
    if stack.crm.has_fields:  # R-T9 end-of-call fields (Zendesk custom fields)
        assert field(t, F_DURATION) == "301"
        assert field(t, F_WAIT) == "20"
        assert field(t, F_QUEUE) == "support"
        assert field(t, F_CALL_ID) == call.call_id
        assert field(t, F_HOLD) == "31"


# ------------------------------------------------------------------- R-T6

def test_R_T6_recording_link_added_as_comment(stack):
    """R-T6: the recording's link and length in a comment on the call's ticket."""
    call = Call()
    url = f"https://recordings.example.com/{call.call_id}.mp3"
    stack.produce(call.answered(stack.agent1), call.ended(agent=stack.agent1),
                  call.recording(url, 281))
    t = one_ticket(stack.crm, call)
    t = wait_comment(stack.crm, t["id"], url)
    [rec] = comments_with(t, url)
    assert "4m 41s" in rec["body"]


# ------------------------------------------------------------------- R-T7

def test_R_T7_merged_ticket_end_of_call_and_recording_go_to_target(stack):
    """R-T7: the call's ticket A is merged into B while the call is on: the
    end-of-call comment and the recording go to B. On Dynamics, B is the
    master Dataverse's Merge names (issue 23 item 2)."""
    call = Call()
    stack.produce(call.answered(stack.agent1))
    a = one_ticket(stack.crm, call)
    b = stack.crm.seed_ticket(subject="Existing case", requester=a["requester"], status="open")
    stack.crm.merge(a["id"], b["id"])
    assert stack.crm.ticket(a["id"])["status"] == "closed"
    url = f"https://recordings.example.com/{call.call_id}.mp3"
    stack.produce(call.ended(agent=stack.agent1), call.recording(url, 60))
    b2 = wait_comment(stack.crm, b["id"], "Call summary", timeout=20)
    b2 = wait_comment(stack.crm, b["id"], url, timeout=20)
    assert len(comments_with(b2, "Call summary")) == 1
    assert len(comments_with(b2, url)) == 1
    a2 = stack.crm.ticket(a["id"])
    assert not comments_with(a2, "Call summary") and not comments_with(a2, url)
    assert len(stack.crm.tickets_of_call(call.call_id)) == 1, "no new ticket for a merge"


def test_R_T7_ticket_event_names_the_merge_target(stack):
    """R-T7 with R-P3: after the merge, ticket-events must name B (the ticket
    the end of the call went to) for pop-service, not the closed A."""
    call = Call()
    stack.produce(call.answered(stack.agent2))
    a = one_ticket(stack.crm, call)
    b = stack.crm.seed_ticket(subject="Existing case", requester=a["requester"], status="open")
    stack.crm.merge(a["id"], b["id"])
    ended = call.ended(agent=stack.agent2)
    stack.produce(ended)
    wait_comment(stack.crm, b["id"], "Call summary", timeout=20)

    def announced():
        return [v for _, v in stack.topics.ticket_events()
                if v.get("cause_event_id") == ended["event_id"]]
    [ev] = wait_for(announced, 15, interval=0.5, what="the end of call's ticket event")
    assert ev["ticket_id"] == b["id"], f"announced {ev['ticket_id']}, merged A={a['id']}"


# ------------------------------------------------------------------ R-T10

def test_R_T10_ticket_solved_by_a_person_is_not_reused(stack):
    """R-T10 (with R-T2): the customer's previous ticket was solved by a
    person: the next call of the same queue gets a new ticket, the solved
    one is not written to."""
    number = new_number()
    first = Call(number=number)
    stack.produce(first.answered(stack.agent1), first.ended(agent=stack.agent1))
    t1 = one_ticket(stack.crm, first)
    t1 = wait_comment(stack.crm, t1["id"], "Call summary")
    stack.crm.set_status(t1["id"], "solved")
    n_comments = len(t1["comments"])
    second = Call(number=number)
    stack.produce(second.answered(stack.agent2))
    t2 = one_ticket(stack.crm, second)
    assert t2["id"] != t1["id"]
    after = stack.crm.ticket(t1["id"])
    assert after["status"] == "solved" and len(after["comments"]) == n_comments


def test_R_T10_ticket_closed_during_the_call_write_goes_to_new_ticket(stack):
    """R-T10: the call's ticket is closed by a person while the call is on:
    the end-of-call write goes to a new ticket (still the answering agent's,
    R-T1; pending, R-T5); the recording that follows goes to that same new
    ticket, not to a third one."""
    call = Call()
    stack.produce(call.answered(stack.agent1))
    t1 = one_ticket(stack.crm, call)
    stack.crm.set_status(t1["id"], "closed")
    url = f"https://recordings.example.com/{call.call_id}.mp3"
    stack.produce(call.ended(agent=stack.agent1))

    def replacement():
        others = [t for t in stack.crm.tickets_of_call(call.call_id) if t["id"] != t1["id"]]
        return others if any(comments_with(t, "Call summary") for t in others) else None
    [t2] = wait_for(replacement, 20, what="the end of call on a new ticket")
    assert len(stack.crm.ticket(t1["id"])["comments"]) == len(t1["comments"])
    assert t2["requester"] == t1["requester"]
    stack.produce(call.recording(url, 30))
    wait_for(lambda: any(comments_with(t, url) for t in stack.crm.tickets_of_call(call.call_id)),
             20, what="the recording")
    stack.svc.wait_idle()
    tickets = stack.crm.tickets_of_call(call.call_id)
    assert len(tickets) == 2, f"one replacement ticket expected, got " \
        f"{[(t['id'], t['external_id']) for t in tickets]}"
    t2 = stack.crm.ticket(t2["id"])
    assert comments_with(t2, url), "the recording must follow the end of call"
    assert t2["assignee"] == stack.agent1["crm_id"], "R-T1: the answering agent's ticket"
    assert t2["status"] == "pending", "R-T5: an answered call's ticket ends pending"


def test_R_T10_ticket_solved_during_the_call_is_not_written_to(stack):
    """R-T10: "never written to once it is solved/closed by a human": a ticket
    solved (not closed) during the call must not get the end-of-call
    summary nor be reopened to pending; the write goes to a new ticket."""
    call = Call()
    stack.produce(call.answered(stack.agent1))
    t1 = one_ticket(stack.crm, call)
    stack.crm.set_status(t1["id"], "solved")
    stack.produce(call.ended(agent=stack.agent1))
    wait_for(lambda: any(comments_with(t, "Call summary")
                         for t in stack.crm.tickets_of_call(call.call_id)), 20,
             what="the end of call somewhere")
    after = stack.crm.ticket(t1["id"])
    assert after["status"] == "solved" and not comments_with(after, "Call summary")


# ------------------------------------------------------------ R-T11, R-M1

def test_R_T11_abandoned_call_goes_to_default_assignee(stack):
    """R-T11 / R-M1: a caller who hung up before being offered to an agent:
    a "Missed call" ticket, tagged, open, assigned to the configured
    default user (never to an arbitrary agent)."""
    call = Call(queue="sales")
    stack.produce(call.ended("abandoned", durations={"wait_s": 42, "total_s": 60}))
    t = one_ticket(stack.crm, call)
    assert t["subject"] == f"Missed call from {call.number}"
    assert t["assignee"] == stack.agent3["crm_id"]
    assert t["status"] == "open"
    assert "callbus_missed" in t["tags"]  # Dynamics: the marker column


def test_R_M1_missed_call_assigned_to_last_offered_agent(stack):
    """R-M1 (direct mode, no grouper): offered to two agents, nobody
    answered: a "Missed call" ticket, open, tagged, assigned to the last
    agent the call was offered to."""
    call = Call(queue="billing")
    stack.produce(call.offered(stack.agent1), call.missed_leg(stack.agent1),
                  call.offered(stack.agent2), call.missed_leg(stack.agent2),
                  call.ended("missed", durations={"wait_s": 55, "total_s": 70}))
    t = one_ticket(stack.crm, call)
    assert t["subject"] == f"Missed call from {call.number}"
    assert t["assignee"] == stack.agent2["crm_id"]
    assert t["status"] == "open"
    assert "callbus_missed" in t["tags"]  # Dynamics: the marker column


# ------------------------------------------------------------------ R-T12

def test_R_T12_csat_added_as_comment_and_field(stack):
    """R-T12: the score in a comment and in the mapped field."""
    call = Call()
    stack.produce(call.answered(stack.agent3), call.ended(agent=stack.agent3), call.csat(4, 5))
    t = one_ticket(stack.crm, call)
    t = wait_comment(stack.crm, t["id"], "Customer satisfaction: 4/5")
    if stack.crm.has_fields:
        assert field(t, F_CSAT) == "4"


# ------------------------------------------------------------------- R-I3

def test_R_I3_unmapped_operator_is_ignored(stack):
    """R-I3: a call handled by an operator with no CRM agent makes no ticket
    (and no CRM request at all); it is counted."""
    before = stack.svc.metric("ticket_calls_ignored_unmapped_total")
    mark = stack.crm.mark()
    call = Call()
    stack.produce(call.answered(UNMAPPED), call.ended(agent=UNMAPPED))
    wait_for(lambda: stack.svc.metric("ticket_calls_ignored_unmapped_total") > before,
             what="the unmapped call to be counted")
    stack.svc.wait_idle()
    assert stack.crm.tickets_of_call(call.call_id) == []
    assert stack.crm.contacts_with_phone(call.number) == []
    assert not stack.crm.requests_mentioning(mark, call.number)


# ----------------------------------------------------------------- replay

def test_replayed_events_make_no_duplicate_ticket_or_comment(stack):
    """Replays are harmless: the same events (same event ids) produced twice,
    back to back (a provider re-post while the first is in the batch
    window) and once more after everything was applied: one ticket, each
    comment exactly once."""
    call = Call()
    events = [call.answered(stack.agent1), call.ended(agent=stack.agent1), call.recording(None, 50)]
    stack.produce(*events)
    stack.produce(*events)
    t = one_ticket(stack.crm, call)
    wait_comment(stack.crm, t["id"], "recordings.example.com")
    stack.svc.wait_idle()
    for ev in events:
        assert stack.crm.marker_count(ev["event_id"]) == 1, \
            f"{ev['type']}: comment written {stack.crm.marker_count(ev['event_id'])} times"
    mark = stack.crm.mark()
    replayed = stack.svc.metric("ticket_events_replayed_total")
    stack.produce(*events)
    wait_for(lambda: stack.svc.metric("ticket_events_replayed_total") >= replayed + 3,
             what="the third copies to be recognised as replays")
    stack.svc.wait_idle()
    assert len(stack.crm.tickets_of_call(call.call_id)) == 1
    for ev in events:
        assert stack.crm.marker_count(ev["event_id"]) == 1
    writes = stack.crm.writes(mark)
    assert writes == [], f"a replay after the effects wrote again: {writes[:3]}"


# ----------------------------------------------------------- ticket-events

def test_ticket_events_published_with_ticket_id_and_url(stack):
    """ticket-service says which ticket belongs to the call on ticket-events
    (key: the customer's number; schemas/ticket-event.schema.json)."""
    call = Call()
    answered, ended = call.answered(stack.agent1), call.ended(agent=stack.agent1)
    stack.produce(answered, ended)
    t = one_ticket(stack.crm, call)
    wait_comment(stack.crm, t["id"], "Call summary")

    def mine():
        evs = [(k, v) for k, v in stack.topics.ticket_events() if v.get("call_id") == call.call_id]
        causes = {v.get("cause_event_id") for _, v in evs}
        return evs if {answered["event_id"], ended["event_id"]} <= causes else None
    evs = wait_for(mine, 20, interval=0.5, what="ticket-events for the call")
    with open(os.path.join(ROOT, "schemas", "ticket-event.schema.json"), encoding="utf-8") as f:
        schema = json.load(f)
    for key, value in evs:
        jsonschema.validate(value, schema)
        assert key == call.number
        assert value["ticket_id"] == t["id"]
        assert value["ticket_url"] == stack.crm.ticket_url(t["id"])
        assert value["customer_number"] == call.number
        assert value["contact"]["id"] == str(t["requester"])
    by_cause = {v["cause_event_id"]: v for _, v in evs}
    first = by_cause[answered["event_id"]]
    assert first["created"] is True and first["assignee_id"] == stack.agent1["crm_id"]
    assert first["status"] == "open"
    last = by_cause[ended["event_id"]]
    assert last["created"] is False and last["status"] == "pending"
    # every message on the topic (all of this module's calls) is valid
    for _, value in stack.topics.ticket_events():
        jsonschema.validate(value, schema)


def test_ticket_event_carries_subject_contact_and_r_c4_candidates(stack):
    """R-P3's context and R-C4's choice reach the pop through the ticket
    event (common/cmn_ticket_event.c): the created ticket's subject, the
    contact's name, and with several contacts on the number the ones the
    agent may pick from, newest first (the one taken when nobody picks)."""
    number = new_number()
    older = stack.crm.seed_contact("Old Two", number, email=f"old{number[1:]}@example.com",
                                   created_at="2021-03-01T10:00:00Z")
    newest = stack.crm.seed_contact("New Two", number, created_at="2024-02-01T10:00:00Z")
    call = Call(number=number)
    answered = call.answered(stack.agent1)
    stack.produce(call.offered(stack.agent1), answered)  # a provider that says "ringing" first
    t = one_ticket(stack.crm, call)
    ev = wait_for(lambda: next((v for _, v in stack.topics.ticket_events()
                                if v.get("cause_event_id") == answered["event_id"]), None),
                  20, interval=0.5, what="the answer's ticket event")
    with open(os.path.join(ROOT, "schemas", "ticket-event.schema.json"), encoding="utf-8") as f:
        jsonschema.validate(ev, json.load(f))
    assert ev["subject"] == t["subject"]
    assert ev["contact"]["id"] == newest["id"] and ev["contact"]["name"] == "New Two"
    assert [c["id"] for c in ev["contacts"]] == [newest["id"], older["id"]]
    assert ev["contacts"][1]["name"] == "Old Two"
    assert ev["contacts"][1]["email"] == f"old{number[1:]}@example.com"
    assert ev["contacts"][1]["url"] == stack.crm.contact_url(older["id"])


def test_crm_display_pops_the_ticket_in_zendesk_for_the_answering_agent(stack):
    """CALLBUS_TICKET_CRM_DISPLAY (issue 10 item 3): Zendesk Talk Partner
    Edition's "display ticket" opens the call's ticket in the browser of the
    agent who answered, then of the one the call was transferred to (R-P4).
    Zendesk only: Dynamics has no display API, its pops go through pop-service."""
    zendesk_only(stack, "Talk Partner Edition's display ticket")
    call = Call()
    stack.produce(call.answered(stack.agent1))
    t = one_ticket(stack.crm, call)

    def shown(agent):
        return [d for d in stack.emu.store.displays
                if d["kind"] == "ticket" and str(d["ticket_id"]) == t["id"]
                and d["agent_id"] == int(agent["crm_id"])]
    wait_for(lambda: shown(stack.agent1), 20, what="the ticket displayed to the answering agent")
    stack.produce(call.transferred(stack.agent2, stack.agent1))
    wait_for(lambda: shown(stack.agent2), 20, what="the ticket displayed to the receiving agent")
    assert len(shown(stack.agent1)) == 1


# ------------------------------------------------------------ conformance

def test_zz_every_request_conforms(stack):
    """Every request ticket-service sent in this module validates against
    Zendesk's OpenAPI document (tests/emulators/zendesk/oas_check.py), or, with
    Dynamics, is OData 4.0 with a Bearer token (assert_crm_requests_conform)."""
    stack.svc.wait_idle()
    assert_crm_requests_conform(stack)
