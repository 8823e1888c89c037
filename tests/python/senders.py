"""Real senders for tests/python_senders.rs: deliveries built by the official CloudEvents Python SDK (binary and
structured HTTP output, the current bindings and the v1 conversion helpers) and by the Standard Webhooks library,
POSTed over HTTPS to a running glwatch that is trusted through its CA file.

Usage: senders.py BASE_URL CA_FILE GREENLAKE_SECRET WHSEC WHSEC_SECONDARY

GreenLake has no sender library: the GreenLake path's Hpe-Webhook-Signature (sha256=<hex HMAC of the body>) is
computed here over the body the SDK produced, byte for byte as it is sent. Prints one JSON line per delivery:
{"name", "id", "status", "reply"}.
"""

import hashlib
import hmac
import http.client
import json
import ssl
import sys
from datetime import datetime, timezone

import cloudevents
from cloudevents.core.bindings import http as ce_http
from cloudevents.core.v1.event import CloudEvent
from cloudevents.v1.http import CloudEvent as LegacyCloudEvent
from cloudevents.v1.http import to_binary as legacy_to_binary
from cloudevents.v1.http import to_structured as legacy_to_structured
import standardwebhooks
from standardwebhooks.webhooks import Webhook

BASE, CA, GREENLAKE_SECRET, WHSEC, WHSEC_SECONDARY = sys.argv[1:6]
CONTEXT = ssl.create_default_context(cafile=CA)
AUDIT = "com.hpe.greenlake.audit-log.v1.logs.created"


def post(name, event_id, path, headers, body):
    # http.client sends the headers as given: urllib would add a form Content-Type to a request without one.
    host, port = BASE.removeprefix("https://").split(":")
    connection = http.client.HTTPSConnection(host, int(port), context=CONTEXT, timeout=60)
    connection.request("POST", path, body=body, headers=headers)
    reply = connection.getresponse()
    text = reply.read().decode()
    connection.close()
    print(json.dumps({"name": name, "id": event_id, "status": reply.status, "reply": text}), flush=True)


def greenlake(name, event_id, message):
    headers = dict(message.headers)
    digest = hmac.new(GREENLAKE_SECRET.encode(), message.body, hashlib.sha256).hexdigest()
    headers["Hpe-Webhook-Signature"] = "sha256=" + digest
    post(name, event_id, "/greenlake", headers, message.body)


def audit(event_id, **extra):
    attributes = {
        "id": event_id,
        "source": "//global.api.greenlake.hpe.com/audit-log",
        "type": AUDIT,
        "subject": "jöhn doe \"quoted\" 100%",
        "datacontenttype": "application/json",
        "time": datetime(2026, 1, 10, 12, 0, tzinfo=timezone.utc),
    }
    attributes.update(extra)
    data = {"description": f"sent by the CloudEvents SDK {cloudevents.__version__}", "user": {"username": "sdk"}}
    return CloudEvent(attributes=attributes, data=data)


# The current bindings: binary mode (attributes as percent-encoded ce-* headers) and structured mode.
greenlake("binary", "sdk-binary", ce_http.to_binary_event(audit("sdk-binary", comexampleext="a b/ü")))
greenlake("structured", "sdk-structured", ce_http.to_structured_event(audit("sdk-structured")))
# Data that is not JSON: raw bytes in binary mode, data_base64 in structured mode.
raw = bytes(range(0, 256, 17))
octets = {"id": "sdk-octets", "source": "/sdk", "type": "com.example.octets", "datacontenttype": "application/octet-stream"}
greenlake("binary-octets", "sdk-octets", ce_http.to_binary_event(CloudEvent(attributes=dict(octets), data=raw)))
octets["id"] = "sdk-octets-structured"
greenlake(
    "structured-octets",
    "sdk-octets-structured",
    ce_http.to_structured_event(CloudEvent(attributes=dict(octets), data=raw)),
)


class Message:
    def __init__(self, headers, body):
        self.headers, self.body = headers, body


# The v1 conversion helpers (cloudevents.v1.http), which older senders use.
legacy = {"id": "sdk-v1-binary", "source": "/sdk/v1", "type": "com.example.legacy", "subject": "v1 helpers"}
headers, body = legacy_to_binary(LegacyCloudEvent(dict(legacy), {"helper": "to_binary"}))
greenlake("v1-binary", "sdk-v1-binary", Message(headers, body))
legacy["id"] = "sdk-v1-structured"
headers, body = legacy_to_structured(LegacyCloudEvent(dict(legacy), {"helper": "to_structured"}))
greenlake("v1-structured", "sdk-v1-structured", Message(headers, body))

# Standard Webhooks: the library signs; the receiver holds the primary and the secondary secret.
payload = json.dumps({"type": "invoice.paid", "data": {"id": "in_1", "amount": 4200}})
for name, secret, msg_id in [
    ("standard-webhooks", WHSEC, "msg_library_1"),
    ("standard-webhooks-secondary", WHSEC_SECONDARY, "msg_library_2"),
    ("standard-webhooks-wrong", "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB", "msg_library_3"),
]:
    hook = Webhook(secret)
    now = datetime.now(timezone.utc)
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": hook.sign(msg_id, now, payload),
    }
    # The library accepts what it signed, so a refusal by glwatch would be glwatch's disagreement.
    hook.verify(payload, headers)
    post(name, msg_id, "/hooks", headers, payload.encode())
