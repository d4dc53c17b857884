"""Schemathesis hooks for the fuzzing run against /api/openapi.json (issue 14).

The document declares every rule a JSON Schema can state. Four rules depend on state it cannot
(the hub's clock, issued tokens, the stored thresholds and fleet); the descriptions of the
fields say so. These hooks (`map_case`: every phase) make each positive case's values obey them, so that the positive checks
test the rest of the request; negative cases are left as generated.

    HLC_URL=http://127.0.0.1:8080 HLC_KEY=… SCHEMATHESIS_HOOKS=hooks PYTHONPATH=<this dir> \
        schemathesis run "$HLC_URL/api/openapi.json" -H "X-API-Key: $HLC_KEY" …
"""

import json
import os
import re
import urllib.request
import uuid
from datetime import datetime, timezone

import schemathesis



def _negative(case):
    """A case meant to break the schema: left as generated, for the negative checks."""
    meta = case.meta
    return meta is not None and str(meta.generation.mode) == "negative"


def _is_date_time(value):
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
        return True
    except (AttributeError, ValueError):
        return False


def _fresh_token():
    """A registration token issued by the hub under test (a claim needs a live one)."""
    request = urllib.request.Request(
        os.environ["HLC_URL"].rstrip("/") + "/api/v1/agents/register/tokens",
        data=b'{"expiry_minutes": 60}',
        headers={"X-API-Key": os.environ["HLC_KEY"], "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)["token"]


@schemathesis.hook("map_case").apply_to(method="POST", path="/api/v1/agents/heartbeat")
def heartbeat_now(context, case):
    if _negative(case):
        return case
    body = case.body
    # The timestamp must be near the hub's clock (at most 300 s ahead, inside the history kept).
    if isinstance(body, dict) and _is_date_time(body.get("timestamp")):
        body["timestamp"] = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return case


@schemathesis.hook("map_case").apply_to(method="POST", path="/api/v1/agents/register/claim")
def claim_a_live_token(context, case):
    if _negative(case):
        return case
    body = case.body
    # v1 answers a token it never issued (or one already claimed) 400 "Invalid token"; each
    # claim gets a fresh token and a server id not registered yet.
    if not isinstance(body, dict):
        return case
    token, server_id = body.get("token"), body.get("server_id")
    if isinstance(token, str) and 40 <= len(token) <= 200 and "\x00" not in token:
        body["token"] = _fresh_token()
    if isinstance(server_id, str) and re.fullmatch(r"[a-z0-9-]{1,100}", server_id):
        body["server_id"] = f"{server_id[:91]}-{uuid.uuid4().hex[:8]}"
    return case


@schemathesis.hook("map_case").apply_to(method="PUT", path="/api/v1/config/thresholds")
def critical_above_high(context, case):
    if _negative(case):
        return case
    body = case.body
    # critical_percent must stay above high_percent once merged with the stored thresholds,
    # which the fuzzer cannot see: a metric that sets one of them sets both, in order.
    if not isinstance(body, dict):
        return case
    temperature = body.get("temperature")
    kinds = [(body, metric, "percent", 100) for metric in ("cpu", "memory", "disk")]
    if isinstance(temperature, dict):
        kinds += [(temperature, kind, "celsius", 150) for kind in ("cpu", "drive", "chipset", "gpu", "ambient", "other")]
    for parent, name, unit, top in kinds:
        levels = parent.get(name)
        if not isinstance(levels, dict):
            continue
        high, critical = levels.get(f"high_{unit}"), levels.get(f"critical_{unit}")
        valid = [v for v in (high, critical) if isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= top]
        if not valid or any(v is not None and v not in valid for v in (high, critical)):
            continue
        low = min(min(valid), top - 1)
        levels[f"high_{unit}"], levels[f"critical_{unit}"] = low, max(max(valid), low + 1)
    return case


@schemathesis.hook("map_case").apply_to(method="PUT", path="/api/v1/servers/{server_id}")
def depends_on_another_machine(context, case):
    if _negative(case):
        return case
    # depends_on must name another existing machine; the fuzzer knows none.
    depends_on = case.body.get("depends_on") if isinstance(case.body, dict) else None
    if isinstance(depends_on, str) and 1 <= len(depends_on) <= 100 and "\x00" not in depends_on:
        case.body["depends_on"] = None
    return case


@schemathesis.hook("filter_failure").apply_to(method="POST", path="/api/v1/alerts/{alert_id}/acknowledge")
def v1_refuses_acknowledging_a_closed_alert(context, failure, case, response):
    # v1 answers 400 INVALID_STATE ("Cannot acknowledge a resolved alert") and 400
    # SERVICE_STILL_DOWN (contract §2.5), documented as this operation's 400: the alert's state,
    # not the request, decides. Only those two refusals are let through.
    try:
        code = json.loads(response.content)["detail"]["code"]
    except (ValueError, KeyError, TypeError):
        return True
    return not (response.status_code == 400 and code in ("INVALID_STATE", "SERVICE_STILL_DOWN"))


@schemathesis.hook("filter_failure").apply_to(method="POST", path="/api/v1/agents/register/claim")
def v1_refuses_claiming_a_registered_server(context, failure, case, response):
    # The stateful phase links a server id read from GET /servers into a claim after the
    # hooks above ran; v1 answers 400 "Server already registered. Use token rotation to update
    # credentials." (contract §2.8): the fleet, not the request, decides. Only that refusal.
    try:
        detail = json.loads(response.content)["detail"]
    except (ValueError, KeyError, TypeError):
        return True
    return not (response.status_code == 400 and isinstance(detail, str) and detail.startswith("Server already registered"))
