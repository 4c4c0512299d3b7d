"""The blocking design the queue design replaces, rebuilt for the benchmark only.

``python -m bench.blocking SPEC.json OUT.json`` is one worker process with a pool of ``W``
threads, like a Celery worker with ``--concurrency W``: the requests wait in an in-process queue
(the broker) and each thread takes one and holds it to the end. Per request it

1. writes the status record (``ensuring_resource_group``),
2. creates the resource group (PUT),
3. reads it (GET) up to 12 times, sleeping 5 s after each miss,
4. starts the AKS create, writes ``creating_cluster``, and waits for the create by polling its
   operation (the SDK's ``LROPoller.result()``, which follows ``Retry-After``),
5. writes ``succeeded``.

It uses the same SDK clients as the app (``ResourceManagementClient``,
``ContainerServiceClient``, built once per process, one ``DefaultAzureCredential``, the
``azure-data-tables`` client), the same cluster body (``decisions.cluster_body``) and the same
emulator. The SDK clients keep their default pipelines, as the blocking app did.
"""

from __future__ import annotations

import json
import queue
import resource
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode
from azure.identity import DefaultAzureCredential
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.containerservice.models import ManagedCluster
from azure.mgmt.resource.resources import ResourceManagementClient

from provisioning.contract import parse_request
from provisioning.decisions import cluster_body, resource_tags

PARTITION_ROW = "status"


class Worker:
    """What every thread of the process shares: clients built once, and the results."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        endpoint = spec["arm_endpoint"]
        kwargs: dict[str, Any] = {
            "base_url": endpoint,
            "credential_scopes": [f"{endpoint}/.default"],
        }
        credential = DefaultAzureCredential()
        self.subscription = spec["subscription_id"]
        self.rm = ResourceManagementClient(credential, self.subscription, **kwargs)
        self.aks = ContainerServiceClient(credential, self.subscription, **kwargs)
        self.table = TableClient.from_connection_string(
            spec["connection_string"], spec["status_table"]
        )
        self.results: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def status(self, request_id: str, phase: str, **extra: Any) -> None:
        entity = {"PartitionKey": request_id, "RowKey": PARTITION_ROW, "phase": phase, **extra}
        self.table.upsert_entity(entity, mode=UpdateMode.REPLACE)

    def run_one(self, body: str) -> None:
        picked = time.time()
        request = parse_request(body.encode(), max_node_count=1000)
        rid, group = request.request_id, request.resource_group
        times: dict[str, float] = {"picked": picked}
        outcome = "failed"
        try:
            self.status(rid, "ensuring_resource_group")
            self.rm.resource_groups.create_or_update(
                group, {"location": request.location, "tags": resource_tags(request)}
            )
            visible = False
            for attempt in range(1, self.spec["attempts"] + 1):
                try:
                    found = self.rm.resource_groups.get(group)
                    state = found.properties.provisioning_state if found.properties else None
                    visible = (state or "").lower() == "succeeded"
                except ResourceNotFoundError:
                    visible = False
                if visible or attempt == self.spec["attempts"]:
                    break
                time.sleep(self.spec["delay_seconds"])
            if visible:
                # polling_interval: the SDK's default (30 s) unless the spec sets one (smoke test).
                interval = self.spec.get("polling_interval")
                extra = {"polling_interval": interval} if interval else {}
                poller = self.aks.managed_clusters.begin_create_or_update(
                    group, request.cluster.name, ManagedCluster(cluster_body(request)), **extra
                )
                self.status(rid, "creating_cluster")
                times["creating_cluster"] = time.time()
                cluster = poller.result()
                state = cluster.provisioning_state if cluster else None
                if (state or "").lower() == "succeeded":
                    outcome = "succeeded"
                    self.status(rid, "succeeded", cluster_id=str(cluster.id))
                    times["succeeded"] = time.time()
            if outcome != "succeeded":
                self.status(rid, "failed")
        except Exception as exc:  # a benchmark records a failure rather than stopping
            times["error"] = time.time()
            outcome = f"error: {type(exc).__name__}: {exc}"[:300]
        finally:
            times["released"] = time.time()
            with self.lock:
                self.results.append({"request_id": rid, "outcome": outcome, **times})


def run(spec: dict[str, Any]) -> dict[str, Any]:
    worker = Worker(spec)
    broker: queue.SimpleQueue[str] = queue.SimpleQueue()
    started = time.time()
    for body in spec["requests"]:
        broker.put(body)

    def drain() -> None:
        while True:
            try:
                body = broker.get_nowait()
            except queue.Empty:
                return
            worker.run_one(body)

    with ThreadPoolExecutor(max_workers=spec["workers"], thread_name_prefix="worker") as pool:
        for _ in range(spec["workers"]):
            pool.submit(drain)
    return {
        "started": started,
        "finished": time.time(),
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "results": worker.results,
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    spec = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    Path(args[1]).write_text(json.dumps(run(spec)), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
