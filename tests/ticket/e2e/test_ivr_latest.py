"""The IVR look-up under CALLBUS_IVR_LOOKUP_CASE=latest (R-V1; issue 23
item 4, the Webex + Dynamics seed: "i dettagli del caso più recente"): the
caller's newest ticket/case whatever its state, with the number a caller
can be told. The default (latest unresolved) is test_ivr.py's. Against
each CRM (crm_view.py)."""
import re
import urllib.parse

from e2e import IVR_TOKEN, crm_fixtures, new_mobile_number, new_number

AUTH = {"Authorization": f"Bearer {IVR_TOKEN}"}

stack, _crm_defaults = crm_fixtures(env={"CALLBUS_IVR_TOKEN": IVR_TOKEN,
                                         "CALLBUS_IVR_CACHE_S": "0",
                                         "CALLBUS_IVR_LOOKUP_CASE": "latest"})


def lookup(svc, number):
    return svc.http("GET", "/v1/ivr/lookup?number=" + urllib.parse.quote(number, safe=""),
                    headers=AUTH)


def test_R_V1_latest_policy_answers_the_newest_case_even_resolved(stack):
    """R-V1 with the seed's policy: an older open case and a newer solved
    one: the look-up answers the solved one, its case number beside the id."""
    number = new_mobile_number()
    user = stack.crm.seed_contact(name="Luca Bianchi", number=number)
    stack.crm.seed_ticket(subject="Still open", requester=user["id"], status="open",
                          created_at="2024-01-01T09:00:00Z")
    newest = stack.crm.seed_ticket(subject="Router replaced", requester=user["id"],
                                   status="solved", created_at="2024-04-01T09:00:00Z")
    status, body, _ = lookup(stack.svc, number[3:])
    assert status == 200, body
    assert body["status"] == "found" and body["contact"]["id"] == user["id"]
    assert body["ticket"] == {"id": newest["id"], "number": stack.crm.case_number(newest),
                              "subject": "Router replaced", "status": "solved"}
    if stack.crm.name == "dynamics":
        assert re.fullmatch(r"CAS-\d{5}-[0-9A-Z]{6}", body["ticket"]["number"]), body


def test_R_V1_latest_policy_customer_without_cases(stack):
    """A known customer with no case: found, ticket null (the seed's "no
    case found" prompt); an unknown number: none."""
    number = new_mobile_number()
    user = stack.crm.seed_contact(name="Anna Verdi", number=number)
    status, body, _ = lookup(stack.svc, number[3:])
    assert status == 200, body
    assert body["found"] is True and body["contact"]["id"] == user["id"]
    assert body["ticket"] is None
    status, body, _ = lookup(stack.svc, new_number())
    assert status == 200 and body == {"status": "none", "found": False}
