"""The Dask Gateway connector against the local gateway."""

from __future__ import annotations

import time

import pytest

from connectors.exceptions import ConfigurationError, QueryError, ServiceError
from connectors.gateway import CLUSTER_FIELDS, GatewayConnector


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


def test_a_cluster_starts_scales_reports_counts_and_stops(service) -> None:
    gateway = service("gateway").connector()
    name = gateway.start_cluster(worker_cores=1, worker_memory=1)
    try:
        deadline = time.monotonic() + 90
        while gateway.cluster(name)["status"] != "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.5)
        cluster = gateway.cluster(name)
        assert set(cluster) == set(CLUSTER_FIELDS) and cluster["worker_cores"] == 1
        assert "tls_key" not in str(gateway.clusters()) and "PRIVATE KEY" not in str(cluster)
        assert cluster["dashboard"].endswith(f"/clusters/{name}/status")
        assert "limit of 4 workers" in gateway.scale(name, 9)
        while gateway.task_counts(name)["workers"] < 1 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert gateway.task_counts(name)["workers"] >= 1
        assert gateway.adapt(name, 0, 2) == ""
        with pytest.raises(QueryError, match="minimum"):
            gateway.adapt(name, 3, 1)
    finally:
        gateway.stop_cluster(name)
    assert gateway.cluster(name)["status"] in {"STOPPING", "STOPPED"}


def test_options_above_the_gateway_maximum_are_refused_with_its_message(service) -> None:
    with pytest.raises(QueryError, match="worker_cores must be <= 2"):
        service("gateway").connector().start_cluster(worker_cores=9)
