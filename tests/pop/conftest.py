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
