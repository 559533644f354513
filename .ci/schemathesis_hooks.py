"""Schemathesis hooks for .ci/fuzz: a check that every 4xx is a catalogued
error in the documented shape.

The catalogue (`GET /rest/v1.3/jpphp/errors?verbose`) is fetched by .ci/fuzz
and passed in the file named by JPSTART_ERROR_CATALOGUE.
"""

import json
import os

import schemathesis

REST_KEYS = ["error", "message", "error_code", "error_message"]
OAUTH_KEYS = ["error", "error_description"]
DOC_KEYS = {"description", "cause", "solution"}

_catalogue = None


def catalogue():
    global _catalogue
    if _catalogue is None:
        with open(os.environ["JPSTART_ERROR_CATALOGUE"], encoding="utf-8") as f:
            errors = json.load(f)["errors"]
        for code, doc in errors.items():
            assert isinstance(doc, dict) and set(doc) == DOC_KEYS, (
                f"catalogue entry {code!r} lacks description/cause/solution: {doc!r}"
            )
        _catalogue = set(errors)
    return _catalogue


@schemathesis.check
def catalogued_error_body(ctx, response, case):
    """Every 4xx is a catalogued error in the documented shape (JSON; HTML on
    the authorization page), but for the unknown-route 404 with an empty body."""
    if not 400 <= response.status_code < 500:
        return None
    content_type = response.headers.get("content-type", [""])
    if isinstance(content_type, list):
        content_type = content_type[0] if content_type else ""
    if case.path.startswith("/authorize/") and "json" not in content_type:
        # The authorization page is for browsers: its refusals are HTML
        # (other methods get the conventions layer's JSON 405, checked below).
        if not content_type.startswith("text/html"):
            raise AssertionError(f"authorization page answered {content_type!r}")
        return None
    if "json" not in content_type:
        # The unknown-route answer is the one 4xx without an error code.
        if response.status_code == 404 and not response.content:
            return None
        raise AssertionError(
            f"{response.status_code} answered {content_type!r}, not a JSON error body: "
            f"{response.content[:200]!r}"
        )
    try:
        body = json.loads(response.content)
    except ValueError as e:
        raise AssertionError(f"{response.status_code} body is not JSON: {e}")
    if not isinstance(body, dict):
        raise AssertionError(f"{response.status_code} body is not a JSON object: {body!r}")
    # The token endpoint answers its own errors the RFC 6749 way; what the
    # conventions layer answers before it (405, 413) has the REST shape.
    allowed = [REST_KEYS, OAUTH_KEYS] if case.path == "/oauth2/token" else [REST_KEYS]
    expected = next((keys for keys in allowed if list(body) == keys), None)
    if expected is None:
        raise AssertionError(f"error body keys {list(body)} are none of {allowed}")
    code = body["error"]
    if code not in catalogue():
        raise AssertionError(f"error code {code!r} is not in the catalogue")
    if expected is REST_KEYS and body["error_code"] != code:
        raise AssertionError(f"error {code!r} and error_code {body['error_code']!r} differ")
    if not all(isinstance(body[k], str) and body[k] for k in expected):
        raise AssertionError(f"error body has an empty or non-string value: {body!r}")
    return None
