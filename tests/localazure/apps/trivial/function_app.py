"""A trivial v2-model function app for the local host's tests; the message body drives it.

A queue message is JSON ``{"tag": ..., "actions": [...], "poison_actions": [...]}`` (or any text,
which is treated as ``{"tag": <text>}``). The action for an invocation is ``actions[dequeue_count -
1]`` (the last one repeats; default ``"ok"``): ``"ok"`` returns, ``"fail"`` raises,
``"sleep:<seconds>"`` sleeps and returns, ``"spin:<seconds>"`` does the same in 50 ms steps (so a
killed worker's thread stops promptly), ``"return"`` returns a value (which a queue function
without a ``$return`` binding may not). The function on ``%WATCH_QUEUE%`` (set it to
``<MAIN_QUEUE>-poison`` to watch the poison queue) follows ``poison_actions`` instead.

Every invocation writes ``$RECORD_DIR/<function>-<uuid>.json`` with what it received, once when it
starts and again (with ``end``) when it finishes; ``completed`` is set only when the action ran to
its end (not when the worker's thread was stopped).
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any

import azure.functions as func

app = func.FunctionApp()


def _record(path: Path, record: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record), encoding="utf-8")
    tmp.replace(path)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _run(function: str, msg: func.QueueMessage, actions_key: str) -> str | None:
    text = msg.get_body().decode("utf-8", errors="replace")
    try:
        spec = json.loads(text)
    except ValueError:
        spec = None
    if not isinstance(spec, dict):
        spec = {"tag": text}
    actions = spec.get(actions_key) or ["ok"]
    dequeue_count = msg.dequeue_count or 1
    action = str(actions[min(dequeue_count, len(actions)) - 1])
    record: dict[str, Any] = {
        "function": function,
        "tag": spec.get("tag"),
        "action": action,
        "body": text,
        "id": msg.id,
        "dequeue_count": msg.dequeue_count,
        "pop_receipt": msg.pop_receipt,
        "insertion_time": _iso(msg.insertion_time),
        "expiration_time": _iso(msg.expiration_time),
        "time_next_visible": _iso(msg.time_next_visible),
        "pid": os.getpid(),
        "start": time.time(),
        "end": None,
        "completed": False,
    }
    path = Path(os.environ["RECORD_DIR"]) / f"{function}-{uuid.uuid4().hex}.json"
    _record(path, record)
    logging.info(
        "%s got tag=%s dequeue_count=%s action=%s", function, record["tag"], dequeue_count, action
    )
    try:
        if action == "fail":
            raise RuntimeError(f"told to fail (tag={record['tag']})")
        if action.startswith("sleep:"):
            time.sleep(float(action.split(":", 1)[1]))
        if action.startswith("spin:"):
            until = time.monotonic() + float(action.split(":", 1)[1])
            while time.monotonic() < until:
                time.sleep(0.05)
        record["completed"] = True
    finally:
        record["end"] = time.time()
        _record(path, record)
    return f"returned by {record['tag']}" if action == "return" else None


@app.queue_trigger(arg_name="msg", queue_name="%MAIN_QUEUE%", connection="AzureWebJobsStorage")
def main_queue(msg: func.QueueMessage) -> str | None:
    return _run("main_queue", msg, "actions")


@app.queue_trigger(arg_name="msg", queue_name="%WATCH_QUEUE%", connection="AzureWebJobsStorage")
def watch_queue(msg: func.QueueMessage) -> None:
    _run("watch_queue", msg, "poison_actions")


@app.route(route="items/{item_id}", methods=["GET", "POST"], auth_level=func.AuthLevel.FUNCTION)
async def items(req: func.HttpRequest) -> func.HttpResponse:
    payload = {
        "method": req.method,
        "route_params": dict(req.route_params),
        "params": dict(req.params),
        "body": req.get_body().decode("utf-8"),
    }
    return func.HttpResponse(json.dumps(payload), status_code=200, mimetype="application/json")


@app.route(route="boom", methods=["GET"])
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("boom")
