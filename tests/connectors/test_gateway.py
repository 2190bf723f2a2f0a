"""The Dask Gateway connector against the local gateway."""

from __future__ import annotations

import pytest

from connectors.exceptions import ConfigurationError, ServiceError
from connectors.gateway import GatewayConnector


def test_health(service) -> None:
    health = service("gateway").connector().health()
    assert health.up and health.detail == "pass"


def test_cluster_options_come_from_the_gateway(service) -> None:
    options = service("gateway").connector().cluster_options()
    rows = {row["field"]: row for row in options}
    assert set(rows) == {"worker_cores", "worker_memory"}
    assert rows["worker_cores"]["max"] == "2"
    assert rows["worker_memory"]["type"] == "float"


def test_wrong_password_is_refused(service) -> None:
    with pytest.raises(ServiceError, match="401"):
        service("gateway").connector(password="wrong").cluster_options()


def test_no_user_is_a_configuration_error(service) -> None:
    with pytest.raises(ConfigurationError):
        GatewayConnector(service("gateway").url).cluster_options()
