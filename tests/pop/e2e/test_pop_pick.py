"""Issue 24 item 2 through pop-service: the ticket pop offers the
customer's tickets ticket-service listed (R-P6, picking not typing) and
shows ticket-service's refusal of the agent's move; for an unknown caller
(new_contact) the signed-in agent searches the CRM's contacts through
ticket-service and links the call (contact.linked). ticket-service's side:
tests/ticket/e2e/test_retarget.py."""
import pop
from pop import Call
from test_pop_service import FakeIvr


def test_R_P6_ticket_pop_offers_the_customers_tickets_and_shows_a_refusal(crm_pop):
    """The ticket event's `tickets` are on the pop (id, subject, status,
    age); the agent's pick goes to agent-actions as call.retargeted; a
    ticket event answering the action (action_id) with ticket-service's
    refusal pops again (a pop of its own) with the reason."""
    svc, topics, crm, agent = crm_pop.svc, crm_pop.topics, crm_pop.crm, crm_pop.agent1
    token = svc.agent(agent["crm_id"])
    sse = svc.stream(token)
    call = Call()
    topics.produce(call.answered(agent))
    own, older = crm.example_id(6001), crm.example_id(6000)
    ev = pop.ticket_event(call, own, subject="Call from " + call.number, crm=crm)
    ev["tickets"] = [{"id": older, "url": crm.ticket_url(older), "subject": "Earlier call",
                      "status": "pending", "kind": "call",
                      "created_at": "2026-01-01T10:00:00.000Z"}]
    pop.e2e.validate_with_schema("ticket-event.schema.json", ev)
    pop.produce_ticket_events(topics, ev)
    tp = sse.wait_kind(call, "ticket")
    pop.check_pop(tp)
    assert [(t["id"], t["subject"], t["status"]) for t in tp["tickets"]] == [
        (older, "Earlier call", "pending")]
    assert "refusal" not in tp
    status, body, _ = svc.as_agent(token, "POST", "/v1/actions",
                                   {"action": "call.retargeted", "call_id": call.call_id,
                                    "ticket_id": older})
    assert status == 202, body
    sent = pop.wait_for(lambda: [v for _, v in pop.agent_actions(topics)
                                 if v.get("action_id") == body["action_id"]], 20,
                        what="the move on agent-actions")
    assert sent[0]["ticket_id"] == older and sent[0]["action"] == "call.retargeted"

    refused = dict(ev, event_id=f"tkt-act-{body['action_id']}", action_id=body["action_id"],
                   refusal={"action_id": body["action_id"], "reason": "ticket_not_writable"})
    pop.e2e.validate_with_schema("ticket-event.schema.json", refused)
    pop.produce_ticket_events(topics, refused)
    again = sse.wait(lambda ps: [p for p in ps if p["call_id"] == call.call_id
                                 and p.get("refusal")], what="the pop with the refusal")
    pop.check_pop(again[0])
    assert again[0]["refusal"]["reason"] == "ticket_not_writable"
    assert again[0]["pop_id"] != tp["pop_id"]
    sse.close()


def test_unknown_caller_is_found_through_ticket_service_and_linked(logdir):
    """An unknown caller's pop says new_contact; the signed-in agent's
    GET /v1/contacts/search goes to ticket-service's search with its token
    (401 without a session, 400 without q); the pick goes to agent-actions
    as contact.linked."""
    topics = pop.Topics(pop.e2e.module_prefix())
    ivr = FakeIvr("ivr-token")
    shape = pop.crm_shape("zendesk")
    ada = {"id": shape.example_id(93), "name": "Ada Found", "email": "ada@example.com",
           "url": shape.contact_url(shape.example_id(93))}
    ivr.found["Ada F"] = [ada]
    svc = pop.start_pop(topics, f"pop-link-{topics.prefix.rstrip('.')}", logdir, "pop-link",
                        {"CALLBUS_POP_LOOKUP_URL": ivr.url, "CALLBUS_POP_LOOKUP_TOKEN": "ivr-token"})
    try:
        agent = shape.agents[0]
        token = svc.agent(agent["crm_id"])
        sse = svc.stream(token)
        call = Call()
        topics.produce(call.answered(agent))
        made = shape.example_id(94)
        ev = pop.ticket_event(call, shape.example_id(6100), crm=shape,
                              contact={"id": made, "name": call.number})
        ev["new_contact"] = True
        pop.e2e.validate_with_schema("ticket-event.schema.json", ev)
        pop.produce_ticket_events(topics, ev)
        tp = sse.wait_kind(call, "ticket")
        pop.check_pop(tp)
        assert tp["new_contact"] is True
        status, body, _ = svc.as_agent(token, "GET", "/v1/contacts/search?q=Ada%20F")
        assert status == 200 and body == {"contacts": [ada]}, body
        assert ("/v1/contacts/search", "Ada F", "Bearer ivr-token") in ivr.asked
        assert svc.http("GET", "/v1/contacts/search?q=Ada")[0] == 401
        assert svc.as_agent(token, "GET", "/v1/contacts/search")[0] == 400
        status, body, _ = svc.as_agent(token, "POST", "/v1/actions",
                                       {"action": "contact.linked", "call_id": call.call_id,
                                        "contact_id": ada["id"]})
        assert status == 202, body
        sent = pop.wait_for(lambda: [v for _, v in pop.agent_actions(topics)
                                     if v.get("action_id") == body["action_id"]], 20,
                            what="the link on agent-actions")
        pop.e2e.validate_with_schema("agent-action.schema.json", sent[0])
        assert (sent[0]["action"], sent[0]["contact_id"]) == ("contact.linked", ada["id"])
        sse.close()
    finally:
        svc.stop()
        ivr.stop()
