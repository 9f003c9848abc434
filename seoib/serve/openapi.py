"""The OpenAPI 3.1 document of the decision service (served at /openapi.json).

Verdict bodies are the CLI's JSON; their full shapes are the project's
schemas/policy-output, migrate-output and check-output JSON Schemas.
"""

from __future__ import annotations

from typing import Any

__all__ = ["document"]

_SPEC = {"oneOf": [{"type": "string", "description": "key=value,... as on the command line"},
                   {"type": "object", "additionalProperties": True}]}
_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["message", "location"],
    "properties": {"message": {"type": "string"}, "location": {"type": "string"}}}}}


def _json(schema: dict[str, Any], text: str) -> dict[str, Any]:
    return {"description": text, "content": {"application/json": {"schema": schema}}}


def _decision(line: str, verdict: str) -> dict[str, Any]:
    body = {"oneOf": [{"$ref": f"#/components/schemas/{line}"},
                      {"type": "array", "items": {"$ref": f"#/components/schemas/{line}"}}]}
    return {"post": {
        "summary": f"{verdict} verdicts, exactly as the CLI's --format json",
        "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
        "responses": {
            "200": _json({"oneOf": [{"$ref": "#/components/schemas/Verdict"},
                                    {"type": "array", "items": {"oneOf": [
                                        {"$ref": "#/components/schemas/Verdict"}, _ERROR]}}]},
                         "one verdict, or one per item (an error object for a bad item)"),
            "400": _json(_ERROR, "bad JSON, unknown keys, a bad spec, an oversized body"),
            "408": _json(_ERROR, "the body did not arrive in time"),
            "503": _json(_ERROR, "the request ran past its time budget"),
        }}}


def document() -> dict[str, Any]:
    from .. import __version__

    return {
        "openapi": "3.1.0",
        "info": {"title": "seoib-engine decision service", "version": __version__,
                 "description": "x2APIC SEOIB policy, migration and rollout verdicts."},
        "paths": {
            "/v1/policy": _decision("PolicyQuery", "`seoib policy`"),
            "/v1/migrate": _decision("MigrateQuery", "`seoib migrate`"),
            "/v1/check": {"post": {
                "summary": "`seoib check --format json` of a rollout plan",
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": {"type": "object"}},
                    "application/yaml": {"schema": {"type": "string"}}}},
                "responses": {"200": _json({"type": "object"}, "the check report"),
                              "400": _json(_ERROR, "a bad plan, with its location")}}},
            "/v1/reload": {"post": {
                "summary": "load the rule set again; a bad one is refused and the old one serves",
                "responses": {"200": _json({"type": "object"}, "reloaded (or unchanged)"),
                              "400": _json(_ERROR, "the new rule set is bad: file:line")}}},
            "/v1/rules": {"get": {"summary": "the rule set in service",
                                  "responses": {"200": _json({"type": "object", "properties": {
                                      "digest": {"type": "string"},
                                      "sources": {"type": "array", "items": {"type": "string"}}}},
                                      "digest and sources")}}},
            "/healthz": {"get": {"summary": "liveness", "responses": {
                "200": _json({"type": "object"}, "ok")}}},
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
            "Verdict": {"type": "object", "description": "schemas/policy-output.schema.json or "
                        "schemas/migrate-output.schema.json"},
        }},
    }
