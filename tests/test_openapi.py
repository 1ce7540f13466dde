"""The OpenAPI schema is valid, covers every route of the contract, describes
what the real engine answers, and the Postman collection is generated from it."""

import json
import re
import urllib.request

import jsonschema
import pytest
from django.core.management import call_command

from orders.management.commands.export_postman import DEFAULT_OUTPUT, openapi_schema, render

CONTRACT_ROUTES = [
    ("post", "/api/orders/execute"),
    ("get", "/api/orders/{orderId}"),
    ("get", "/api/orders"),
    ("get", "/api/quote"),
    ("get", "/api/health"),
]


@pytest.fixture(scope="module")
def schema():
    return openapi_schema()


def test_the_schema_validates_without_warnings(tmp_path):
    # --fail-on-warn also catches a view whose responses drf-spectacular had to guess.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))


def test_every_contract_route_is_described(schema):
    for method, path in [*CONTRACT_ROUTES, ("post", "/api/orders/{orderId}/cancel")]:
        assert method in schema["paths"].get(path, {}), f"{method.upper()} {path} is not in the schema"


def test_errors_are_described_with_the_error_shape(schema):
    execute = schema["paths"]["/api/orders/execute"]["post"]["responses"]
    assert {"202", "400", "405", "409", "413", "415", "429", "503"} <= set(execute)
    for code in ("400", "409", "413", "415", "429", "503"):
        assert execute[code]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    assert error["properties"]["fields"]["additionalProperties"]["items"]["type"] == "string"
    assert "404" in schema["paths"]["/api/orders/{orderId}"]["get"]["responses"]


def _json_schema(node, components):
    """OpenAPI 3.0 schema object -> JSON Schema: inline $refs, turn `nullable`
    into a null type, and forbid unknown properties so that undocumented
    fields fail the check too."""
    if isinstance(node, list):
        return [_json_schema(item, components) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _json_schema(components[node["$ref"].rsplit("/", 1)[1]], components)
    out = {
        key: _json_schema(value, components)
        for key, value in node.items()
        if key not in ("nullable", "readOnly")
    }
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        if "allOf" in out or "oneOf" in out:
            out = {"anyOf": [out, {"type": "null"}]}
    if out.get("type") == "object" and "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def _check(schema, method, path, status, body):
    response = schema["paths"][path][method]["responses"][str(status)]
    described = response["content"]["application/json"]["schema"]
    jsonschema.validate(body, _json_schema(described, schema["components"]["schemas"]))
    for example in response["content"]["application/json"].get("examples", {}).values():
        jsonschema.validate(example["value"], _json_schema(described, schema["components"]["schemas"]))


def test_the_real_engine_answers_as_described(engine, schema):
    placed = engine.place({"amount": "1.5", "tokenIn": "SOL", "tokenOut": "USDC"})
    _check(schema, "post", "/api/orders/execute", 202, placed)
    order = engine.wait_terminal(placed["orderId"])
    assert order["status"] == "confirmed"
    _check(schema, "get", "/api/orders/{orderId}", 200, order)

    for verb, path, url, body, status in [
        ("GET", "/api/orders", "/api/orders?limit=2", None, 200),
        ("GET", "/api/quote", "/api/quote?tokenIn=SOL&tokenOut=USDC&amount=1.5", None, 200),
        ("GET", "/api/health", "/api/health", None, 200),
        ("POST", "/api/orders/execute", "/api/orders/execute", {"amount": "-1"}, 400),
        ("GET", "/api/orders", "/api/orders?status=nope", None, 400),
        ("GET", "/api/orders/{orderId}", "/api/orders/5f0c2a8e-9a51-4b9e-8f57-3c1f0e0d4b7a", None, 404),
        ("DELETE", "/api/orders/{orderId}", f"/api/orders/{placed['orderId']}", None, 405),
    ]:
        answer_status, answer = engine.request(verb, url, body)
        assert answer_status == status, (url, answer_status, answer)
        method = "get" if verb == "DELETE" else verb.lower()
        _check(schema, method, path, status, answer)


def test_swagger_ui_is_served_locally(engine):
    with urllib.request.urlopen(engine.url + "/api/docs", timeout=10) as response:
        page = response.read().decode()
    assert "swagger-ui" in page
    assert not re.search(r"https?://(cdn|unpkg|fastly)", page), "the docs page must not load from a CDN"
    for asset in re.findall(r'src="([^"]+\.js)"', page):
        with urllib.request.urlopen(engine.url + asset, timeout=10) as response:
            assert response.status == 200
    request = urllib.request.Request(engine.url + "/api/schema", headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert "/api/orders/execute" in json.loads(response.read())["paths"]


def test_the_postman_collection_is_generated_from_the_schema():
    assert DEFAULT_OUTPUT.read_text() == render(), (
        "run `python manage.py export_postman` and commit the result"
    )
    collection = json.loads(DEFAULT_OUTPUT.read_text())
    requests = {
        (item["request"]["method"], item["request"]["url"]["raw"].split("?")[0])
        for folder in collection["item"]
        for item in folder["item"]
    }
    assert ("POST", "{{baseUrl}}/api/orders/execute") in requests
    assert ("GET", "{{baseUrl}}/api/orders/:orderId") in requests
