"""A GreenLake webhook handler as the seed post writes it: Flask, run under gunicorn with TLS.

Answers the challenge, verifies Hpe-Webhook-Signature over the raw body, appends the event to a file.
"""
import hashlib
import hmac
import json
import os

from flask import Flask, request, jsonify

app = Flask(__name__)
SECRET = os.environ["GLWATCH_SECRET"].encode()
OUT = os.environ.get("BENCH_OUT", "flask-events.jsonl")


@app.post("/")
def webhook():
    body = request.get_data()
    payload = json.loads(body)
    data = payload.get("data") if isinstance(payload, dict) else None
    if isinstance(data, dict) and "challengeRequest" in data:
        digest = hmac.new(SECRET, data["challengeRequest"].encode(), hashlib.sha256).hexdigest()
        return jsonify(verification=digest)
    given = request.headers.get("Hpe-Webhook-Signature", "")
    expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(given.lower(), expected):
        return jsonify(error="bad signature"), 401
    with open(OUT, "ab") as f:
        f.write(body.replace(b"\n", b"") + b"\n")
    return "", 200
