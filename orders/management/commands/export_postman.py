"""Write the Postman collection (docs/postman_collection.json) from the
OpenAPI schema, so the two cannot drift: tests/test_openapi.py regenerates it
and compares with the committed file.

    python manage.py export_postman            # rewrite docs/postman_collection.json
    python manage.py export_postman --check    # exit 1 if the file is out of date
"""

import json
import uuid
from http import HTTPStatus
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from drf_spectacular.generators import SchemaGenerator

DEFAULT_OUTPUT = Path(settings.BASE_DIR) / "docs" / "postman_collection.json"
SCHEMA_URL = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
# A fixed id, so the file is the same every time it is generated.
COLLECTION_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "order-engine/postman"))
HTTP_REASONS = {
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    503: "Service Unavailable",
}


def openapi_schema() -> dict:
    # Through JSON, so that lazy strings and enums become plain values.
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(json.dumps(schema, default=str))


def _url(path: str, query: list[dict]) -> dict:
    # Postman writes path variables as :name; the collection variable fills them.
    segments = [f":{part[1:-1]}" if part.startswith("{") else part for part in path.strip("/").split("/")]
    raw = "{{baseUrl}}/" + "/".join(segments)
    url = {"raw": raw, "host": ["{{baseUrl}}"], "path": segments}
    variables = [part[1:] for part in segments if part.startswith(":")]
    if variables:
        url["variable"] = [{"key": name, "value": "{{" + name + "}}"} for name in variables]
    if query:
        url["raw"] += "?" + "&".join(
            f"{item['key']}={item['value']}" for item in query if not item.get("disabled")
        )
        url["query"] = query
    return url


def _example_value(parameter: dict) -> str:
    schema = parameter.get("schema", {})
    if "example" in parameter:
        return str(parameter["example"])
    if schema.get("enum"):
        return str(schema["enum"][0])
    return {"amount": "1.5", "tokenIn": "SOL", "tokenOut": "USDC", "limit": "20"}.get(parameter["name"], "")


def _request(method: str, path: str, operation: dict) -> dict:
    parameters = operation.get("parameters", [])
    query = [
        {
            "key": parameter["name"],
            "value": _example_value(parameter),
            "description": parameter.get("description", ""),
            # Optional filters start switched off, so the request runs as is.
            "disabled": not parameter.get("required", False)
            and parameter["name"] not in ("tokenIn", "tokenOut"),
        }
        for parameter in parameters
        if parameter["in"] == "query"
    ]
    headers = [
        {
            "key": parameter["name"],
            "value": "",
            "description": parameter.get("description", ""),
            "disabled": True,
        }
        for parameter in parameters
        if parameter["in"] == "header"
    ]
    request = {"method": method.upper(), "header": [], "url": _url(path, query)}
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body:
        examples = body.get("examples", {})
        example = next(iter(examples.values()))["value"] if examples else {}
        request["header"].append({"key": "Content-Type", "value": "application/json"})
        request["body"] = {
            "mode": "raw",
            "raw": json.dumps(example, indent=2),
            "options": {"raw": {"language": "json"}},
        }
    request["header"] += headers
    if operation.get("description"):
        request["description"] = operation["description"]
    return request


def _responses(operation: dict, request: dict) -> list[dict]:
    saved = []
    for code, response in operation.get("responses", {}).items():
        for name, example in (
            response.get("content", {}).get("application/json", {}).get("examples", {}).items()
        ):
            saved.append(
                {
                    "name": example.get("summary", name),
                    "originalRequest": request,
                    "status": HTTP_REASONS.get(int(code)) or HTTPStatus(int(code)).phrase,
                    "code": int(code),
                    "_postman_previewlanguage": "json",
                    "header": [{"key": "Content-Type", "value": "application/json"}],
                    "body": json.dumps(example["value"], indent=2),
                }
            )
    return saved


def collection(schema: dict) -> dict:
    folders: dict[str, list] = {}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            request = _request(method, path, operation)
            item = {
                "name": operation.get("summary") or operation["operationId"],
                "request": request,
                "response": _responses(operation, request),
            }
            folders.setdefault((operation.get("tags") or ["api"])[0], []).append(item)
    collection = {
        "info": {
            "_postman_id": COLLECTION_ID,
            "name": schema["info"]["title"],
            "description": f"Generated from the OpenAPI schema (/api/schema) by `manage.py export_postman`; "
            f"do not edit by hand. Schema version {schema['info']['version']}.",
            "schema": SCHEMA_URL,
        },
        "item": [{"name": name, "item": items} for name, items in folders.items()],
        "variable": [
            {"key": "baseUrl", "value": "http://127.0.0.1:8000"},
            {"key": "orderId", "value": ""},
        ],
    }
    schemes = schema.get("components", {}).get("securitySchemes", {}).values()
    if any(scheme.get("scheme") == "bearer" for scheme in schemes):
        # Sent only when set: placing orders needs it when API_KEYS_REQUIRED is on.
        collection["auth"] = {
            "type": "bearer",
            "bearer": [{"key": "token", "value": "{{apiKey}}", "type": "string"}],
        }
        collection["variable"].append({"key": "apiKey", "value": ""})
    return collection


def render() -> str:
    return json.dumps(collection(openapi_schema()), indent=2, ensure_ascii=False) + "\n"


class Command(BaseCommand):
    help = "Write the Postman collection generated from the OpenAPI schema."

    def add_arguments(self, parser):
        parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
        parser.add_argument("--check", action="store_true", help="Only compare; exit 1 if out of date.")

    def handle(self, *args, output: Path, check: bool, **options):
        text = render()
        if check:
            current = output.read_text() if output.exists() else ""
            if current != text:
                raise CommandError(f"{output} is out of date; run `python manage.py export_postman`.")
            self.stdout.write(f"{output} is up to date.")
            return
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text)
        self.stdout.write(f"Wrote {output}.")
