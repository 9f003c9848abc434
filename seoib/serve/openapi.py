"""The OpenAPI 3.1 document of the decision service (served at /openapi.json).

Verdict bodies are the CLI's JSON, typed by the project's own JSON Schemas
(``schemas/policy-output``, ``migrate-output``, ``check-output`` and
``compact-output``), embedded as components: OpenAPI 3.1 schemas are JSON Schema
2020-12, so each is carried whole, its ``#/$defs/...`` references rewritten to
point into its component.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["document"]

_SCHEMAS = {"PolicyVerdict": "policy-output", "MigrateVerdict": "migrate-output",
            "CheckReport": "check-output", "CompactVerdict": "compact-output"}


def _embedded(name: str, file: str) -> dict[str, Any]:
    """A project schema as the component ``name``: its internal references re-rooted."""
    from ..paths import schemas_dir

    schema = json.loads((schemas_dir() / f"{file}.schema.json").read_text())
    schema.pop("$schema", None)
    schema.pop("$id", None)
    text = json.dumps(schema).replace('"#/$defs/', f'"#/components/schemas/{name}/$defs/')
    out: dict[str, Any] = json.loads(text)
    out.setdefault("description", f"schemas/{file}.schema.json")
    return out

_SPEC = {"oneOf": [{"type": "string", "description": "key=value,... as on the command line"},
                   {"type": "object", "additionalProperties": True}]}
_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["message", "location"],
    "properties": {"message": {"type": "string"}, "location": {"type": "string"}}}}}


def _json(schema: dict[str, Any], text: str) -> dict[str, Any]:
    return {"description": text, "content": {"application/json": {"schema": schema}}}


_REFUSALS = {
    "400": _json(_ERROR, "bad JSON, unknown keys, a bad spec, a bad query parameter"),
    "401": _json(_ERROR, "a token is configured and the request did not carry it"),
    "408": _json(_ERROR, "the body did not arrive within the time budget"),
    "413": _json(_ERROR, "the body is over its cap, or the work over its memory budget"),
    "415": _json(_ERROR, "a content type other than JSON (or YAML for a plan)"),
    "503": _json(_ERROR, "the request ran past its time budget, or the service is saturated"),
}
_PARAMS = [
    {"name": "view", "in": "query", "required": False,
     "schema": {"enum": ["full", "compact"], "default": "full"},
     "description": "compact: at most 300 bytes per verdict (command, outcome, severity, policy, rules)"},
    {"name": "explain", "in": "query", "required": False, "schema": {"type": "boolean", "default": False},
     "description": "with view=compact: add each verdict's reasons"},
]


def _decision(line: str, verdict: str, verdict_schema: str) -> dict[str, Any]:
    body = {"oneOf": [{"$ref": f"#/components/schemas/{line}"},
                      {"type": "array", "items": {"$ref": f"#/components/schemas/{line}"}}]}
    return {"post": {
        "summary": f"{verdict} verdicts, exactly as the CLI's --format json",
        "parameters": _PARAMS,
        "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
        "responses": {
            "200": _json({"oneOf": [{"$ref": f"#/components/schemas/{verdict_schema}"},
                                    {"type": "array", "items": {"oneOf": [
                                        {"$ref": f"#/components/schemas/{verdict_schema}"}, _ERROR]}},
                                    {"$ref": "#/components/schemas/CompactVerdict"},
                                    {"type": "array",
                                     "items": {"$ref": "#/components/schemas/CompactVerdict"}}]},
                         "one verdict, or one per item (an error object for a bad item); "
                         "compact ones with ?view=compact"),
            **_REFUSALS,
        }}}


def document() -> dict[str, Any]:
    from .. import __version__

    return {
        "openapi": "3.1.0",
        "info": {"title": "seoib-engine decision service", "version": __version__,
                 "description": "x2APIC SEOIB policy, migration and rollout verdicts."},
        "paths": {
            "/v1/policy": _decision("PolicyQuery", "`seoib policy`", "PolicyVerdict"),
            "/v1/migrate": _decision("MigrateQuery", "`seoib migrate`", "MigrateVerdict"),
            "/v1/check": {"post": {
                "summary": "`seoib check --format json` of a rollout plan",
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": {"type": "object"}},
                    "application/yaml": {"schema": {"type": "string"}}}},
                "responses": {"200": _json({"$ref": "#/components/schemas/CheckReport"},
                                           "the check report"),
                              **_REFUSALS, "400": _json(_ERROR, "a bad plan, with its location")}}},
            "/v1/reload": {"post": {
                "summary": "load the rule set again; a bad one is refused and the old one serves",
                "responses": {"200": _json({"type": "object"}, "reloaded (or unchanged)"),
                              "400": _json(_ERROR, "the new rule set is bad: file:line")}}},
            "/v1/rules": {"get": {"summary": "the rule set in service",
                                  "responses": {"200": _json({"type": "object", "properties": {
                                      "digest": {"type": "string"},
                                      "sources": {"type": "array", "items": {"type": "string"}}}},
                                      "digest and sources")}}},
            "/healthz": {"get": {"summary": "liveness (also /livez)", "security": [], "responses": {
                "200": _json({"type": "object"}, "ok")}}},
            "/livez": {"get": {"summary": "liveness: the worker's loop answers", "security": [],
                               "responses": {"200": _json({"type": "object"}, "ok")}}},
            "/readyz": {"get": {"summary": "readiness: rules loaded, not stopping", "security": [],
                                "responses": {"200": _json({"type": "object"}, "ready"),
                                              "503": _json({"type": "object"}, "stopping")}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {
                "description": "text exposition format 0.0.4",
                "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
        },
        "components": {"schemas": {
            "PolicyQuery": {"type": "object", "additionalProperties": False,
                            "required": ["host", "vm"],
                            "properties": {"host": _SPEC, "vm": _SPEC}},
            "MigrateQuery": {"type": "object", "additionalProperties": False,
                             "required": ["src", "dst", "vm"],
                             "properties": {"src": _SPEC, "dst": _SPEC, "vm": _SPEC,
                                            "snapshot": {"type": "boolean", "default": False}}},
            **{name: _embedded(name, file) for name, file in _SCHEMAS.items()},
        },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "when the service has tokens (--token-file)"}}},
        "security": [{"bearer": []}, {}],
    }
