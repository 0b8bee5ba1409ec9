"""pop-service tests: one shared stack per module (topics with their own
prefix, a consumer group, one or two callbus-pop replicas), the real Kafka
and Redis of tests/run.sh."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pop  # noqa: E402


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("pop-logs"))


@pytest.fixture(scope="module")
def topics():
    return pop.Topics(pop.e2e.module_prefix())


@pytest.fixture(scope="module")
def svc(topics, logdir, request):
    name = request.module.__name__.rsplit(".", 1)[-1]
    s = pop.start_pop(topics, f"pop-{topics.prefix.rstrip('.')}", logdir, name)
    yield s
    if s.running():
        s.stop()


class CrmPop:
    """A pop-service set up for one CRM's deployment: `crm` (pop.crm_shape:
    its agents, ticket ids and URLs), its topics and its service."""

    def __init__(self, crm, topics, svc):
        self.crm, self.topics, self.svc = crm, topics, svc
        self.agent1, self.agent2, self.agent3 = crm.agents


@pytest.fixture(scope="module", params=pop.e2e.crm_view.crms_to_run())
def crm_pop(request, logdir):
    """The scenarios whose ids and URLs are the CRM's run once per CRM
    (issue 13): the module's Zendesk-shaped replica, or one of their own
    (own topics, so no other replica pops their calls) with the CRM's
    new-case form. pop-service does not talk to the CRM, so nothing here
    waits for the Dynamics adapter."""
    crm = pop.crm_shape(request.param)
    if request.param == "zendesk":
        yield CrmPop(crm, request.getfixturevalue("topics"), request.getfixturevalue("svc"))
        return
    topics = pop.Topics(pop.e2e.module_prefix())
    name = request.module.__name__.rsplit(".", 1)[-1] + "-" + request.param
    s = pop.start_pop(topics, f"pop-{topics.prefix.rstrip('.')}", logdir, name,
                      {"CALLBUS_POP_NEW_CASE_URL": pop.NEW_CASE_URL[request.param]})
    yield CrmPop(crm, topics, s)
    if s.running():
        s.stop()
