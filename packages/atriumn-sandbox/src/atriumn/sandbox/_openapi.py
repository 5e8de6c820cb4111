"""The OpenAPI 3.1 document of the Atriumn API contract (the single source of truth).

The sandbox serves it at ``/openapi.json``; ``docs/openapi.yaml`` is generated from it with
``python -m atriumn.sandbox._openapi docs/openapi.yaml`` (needs PyYAML) and a test keeps the two in sync.
Sandbox-only endpoints (``/_sandbox/*``, ``/_blobs/*``) and the LLM provider paths are not part of it.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from ._version import __version__

__all__ = ["build_openapi"]

Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _s(nullable: bool = False, **extra: Any) -> Schema:
    return {"type": ["string", "null"] if nullable else "string", **extra}


def _obj(needed: list[str] | None = None, /, **props: Schema) -> Schema:
    out: Schema = {"type": "object", "properties": props}
    if needed:
        out["required"] = needed
    return out


_STR_MAP: Schema = {"type": "object", "additionalProperties": {"type": "string"}}
_NULL_INT: Schema = {"type": ["integer", "null"]}

SCHEMAS: dict[str, Schema] = {
    "Error": _obj(["error", "error_description"], error=_s(), error_description=_s()),
    "Health": _obj(["status"], status=_s(), version=_s(), time=_s()),
    "TokenRequest": _obj(
        ["grant_type"],
        grant_type=_s(enum=["client_credentials", "refresh_token"]),
        client_id=_s(),
        client_secret=_s(),
        scope=_s(),
        refresh_token=_s(),
    ),
    "TokenResponse": _obj(
        ["access_token", "token_type", "expires_in"],
        access_token=_s(),
        id_token=_s(),
        refresh_token=_s(),
        token_type=_s(),
        expires_in={"type": "integer"},
        scope=_s(),
    ),
    "SignupRequest": _obj(["email", "password"], email=_s(format="email"), password=_s(), attributes=_STR_MAP),
    "SignupResult": _obj(["user_id"], user_id=_s(), user_confirmed={"type": "boolean"}),
    "ConfirmSignupRequest": _obj(["username", "confirmation_code"], username=_s(), confirmation_code=_s()),
    "UsernameRequest": _obj(["username"], username=_s()),
    "LoginRequest": _obj(["username", "password"], username=_s(), password=_s()),
    "LogoutRequest": _obj(["access_token"], access_token=_s()),
    "EmailRequest": _obj(["email"], email=_s()),
    "ConfirmPasswordRequest": _obj(["email", "code", "new_password"], email=_s(), code=_s(), new_password=_s()),
    "CodeDelivery": _obj(
        ["code_delivery_details"],
        code_delivery_details=_obj(
            ["destination", "delivery_medium", "attribute_name"],
            destination=_s(),
            delivery_medium=_s(),
            attribute_name=_s(),
        ),
    ),
    "Ack": {"type": "object"},
    "UserProfile": _obj(["username", "attributes"], username=_s(), attributes=_STR_MAP),
    "CredentialCreate": _obj(
        ["issued_to", "scopes"],
        issued_to=_s(),
        scopes={"type": "array", "items": _s()},
        description=_s(),
        tenant_id=_s(),
    ),
    "CredentialUpdate": _obj(active={"type": "boolean"}, scopes={"type": "array", "items": _s()}, description=_s()),
    "Credential": _obj(
        ["id", "client_id", "issued_to", "scopes", "active", "tenant_id", "created_at", "updated_at"],
        id=_s(),
        client_id=_s(),
        issued_to=_s(),
        scopes={"type": "array", "items": _s()},
        description=_s(),
        active={"type": "boolean"},
        tenant_id=_s(nullable=True),
        created_at=_s(format="date-time"),
        updated_at=_s(format="date-time"),
    ),
    "CredentialList": _obj(
        ["credentials"], credentials={"type": "array", "items": _ref("Credential")}, next_token=_s(nullable=True)
    ),
    "UploadUrlRequest": _obj(["filename"], filename=_s(), contentType=_s(), tenantId=_s()),
    "UploadUrl": _obj(
        ["uploadUrl", "s3Key", "httpMethod"],
        uploadUrl=_s(),
        s3Key=_s(),
        s3Bucket=_s(),
        httpMethod=_s(),
        expiresIn={"type": "integer"},
    ),
    "DownloadUrlRequest": _obj(["s3Key"], s3Key=_s()),
    "DownloadUrl": _obj(
        ["downloadUrl", "httpMethod"], downloadUrl=_s(), httpMethod=_s(), expiresIn={"type": "integer"}
    ),
    "PromptVariable": _obj(
        ["name"], name=_s(), description=_s(), defaultValue=_s(nullable=True), required={"type": "boolean"}
    ),
    "PromptInput": _obj(
        ["name", "template"],
        name=_s(),
        description=_s(),
        template=_s(),
        modelId=_s(),
        parameters={"type": "object"},
        variables={"type": "array", "items": _ref("PromptVariable")},
        tags={"type": "array", "items": _s()},
    ),
    "PromptUpdate": _obj(
        name=_s(),
        description=_s(),
        template=_s(),
        modelId=_s(),
        parameters={"type": "object"},
        variables={"type": "array", "items": _ref("PromptVariable")},
        tags={"type": "array", "items": _s()},
    ),
    "Prompt": _obj(
        ["id", "name", "template", "version", "createdAt", "updatedAt"],
        id=_s(),
        name=_s(),
        description=_s(),
        template=_s(),
        modelId=_s(nullable=True),
        parameters={"type": "object"},
        variables={"type": "array", "items": _ref("PromptVariable")},
        tags={"type": "array", "items": _s()},
        version={"type": "integer", "minimum": 1},
        createdAt=_s(format="date-time"),
        updatedAt=_s(format="date-time"),
    ),
    "PromptList": _obj(["prompts"], prompts={"type": "array", "items": _ref("Prompt")}, nextToken=_s(nullable=True)),
    "TaskRequest": _obj(["app", "task", "input"], app=_s(), task=_s(), input={}, options={"type": "object"}),
    "TaskResult": _obj(
        ["id", "status", "output"],
        id=_s(),
        app=_s(),
        task=_s(),
        status=_s(),
        output=_s(),
        result={"type": "object"},
        model=_s(),
        usage={"type": "object"},
    ),
    "IngestText": _obj(content=_s(), contentType=_s(), filename=_s(), metadata=_STR_MAP, tenantId=_s(), userId=_s()),
    "IngestUrl": _obj(["url"], url=_s(format="uri"), metadata=_STR_MAP, tenantId=_s(), userId=_s()),
    "IngestFileRequest": _obj(
        ["filename"], filename=_s(), contentType=_s(), metadata=_STR_MAP, tenantId=_s(), userId=_s()
    ),
    "IngestFileForm": _obj(
        ["file"],
        file={"type": "string", "contentMediaType": "application/octet-stream"},
        metadata=_s(description="a JSON object of strings"),
        tenantId=_s(),
        userId=_s(),
    ),
    "UploadTicket": _obj(
        ["id", "uploadUrl", "status", "s3Key", "httpMethod"],
        id=_s(),
        uploadUrl=_s(),
        status=_s(),
        tenantId=_s(),
        userId=_s(nullable=True),
        s3Key=_s(),
        httpMethod=_s(),
        expiresIn={"type": "integer"},
    ),
    "ContentItem": _obj(
        ["id", "tenantId", "sourceType", "status", "metadata", "createdAt", "updatedAt"],
        id=_s(),
        tenantId=_s(),
        userId=_s(nullable=True),
        sourceType=_s(),
        sourceUri=_s(nullable=True),
        s3Key=_s(nullable=True),
        s3Bucket=_s(nullable=True),
        status=_s(description="pending, processing, completed or failed (open-ended)"),
        statusReason=_s(nullable=True),
        contentType=_s(nullable=True),
        size=_NULL_INT,
        metadata=_STR_MAP,
        createdAt=_s(format="date-time"),
        updatedAt=_s(format="date-time"),
    ),
    "ContentList": _obj(["items"], items={"type": "array", "items": _ref("ContentItem")}, nextToken=_s(nullable=True)),
    "ContentUpdate": _obj(metadata=_STR_MAP, sourceUri=_s()),
    "TextContent": _obj(["content"], id=_s(), content=_s()),
    "TextUpdate": _obj(["content"], content=_s()),
}

_ERROR_STATUSES = {
    "400": "Malformed request (bad JSON, wrong types, missing fields)",
    "401": "Missing, invalid, expired or revoked credentials",
    "403": "Not allowed (missing scope, other tenant, bad pre-signed URL)",
    "404": "Not found (or belongs to another tenant)",
    "413": "Request body too large",
    "422": "Idempotency-Key reused with a different request",
    "429": "Rate limited (see Retry-After)",
}


def _json(schema: Schema) -> Schema:
    return {"content": {"application/json": {"schema": schema}}}


def _op(
    op_id: str,
    summary: str,
    *,
    tag: str,
    ok: str = "200",
    response: str | None = None,
    body: str | None = None,
    auth: bool = True,
    params: list[Schema] | None = None,
    extra: dict[str, str] | None = None,
    request_body: Schema | None = None,
) -> Schema:
    responses: Schema = {}
    if response is None:
        responses[ok] = {"description": "Success"}
    else:
        responses[ok] = {"description": "Success", **_json(_ref(response))}
    for status, text in {**_ERROR_STATUSES, **(extra or {})}.items():
        responses[status] = {"description": text, **_json(_ref("Error"))}
    op: Schema = {"operationId": op_id, "summary": summary, "tags": [tag], "responses": responses}
    if not auth:
        op["security"] = []
    if body is not None:
        op["requestBody"] = {"required": True, **_json(_ref(body))}
    if request_body is not None:
        op["requestBody"] = request_body
    if params:
        op["parameters"] = params
    return op


def _q(name: str, schema: Schema, description: str = "") -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
_IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[A-Za-z0-9_.:-]+$"},
    "description": "Replays the first successful response for the same key and request.",
}


def build_openapi() -> dict[str, Any]:
    """The OpenAPI 3.1 document, as a dict."""
    auth = "auth"
    paths: dict[str, Any] = {
        "/health": {"get": _op("health", "Service health", tag=auth, response="Health", auth=False)},
        "/auth/token": {
            "post": _op(
                "token",
                "Token (client_credentials or refresh_token grant)",
                tag=auth,
                response="TokenResponse",
                body="TokenRequest",
                auth=False,
            )
        },
        "/auth/signup": {
            "post": _op(
                "signup",
                "Sign up (a confirmation code goes to the outbox)",
                tag=auth,
                response="SignupResult",
                body="SignupRequest",
                auth=False,
                extra={"409": "The user exists"},
            )
        },
        "/auth/signup/confirm": {
            "post": _op(
                "confirmSignup", "Confirm a signup", tag=auth, response="Ack", body="ConfirmSignupRequest", auth=False
            )
        },
        "/auth/signup/resend": {
            "post": _op(
                "resendConfirmation",
                "Resend the confirmation code",
                tag=auth,
                response="CodeDelivery",
                body="UsernameRequest",
                auth=False,
            )
        },
        "/auth/login": {
            "post": _op("login", "Log in", tag=auth, response="TokenResponse", body="LoginRequest", auth=False)
        },
        "/auth/logout": {
            "post": _op(
                "logout", "Revoke a token and its session", tag=auth, response="Ack", body="LogoutRequest", auth=False
            )
        },
        "/auth/password/reset": {
            "post": _op(
                "requestPasswordReset",
                "Send a password reset code",
                tag=auth,
                response="CodeDelivery",
                body="EmailRequest",
                auth=False,
            )
        },
        "/auth/password/confirm": {
            "post": _op(
                "confirmPasswordReset",
                "Set a new password with the code",
                tag=auth,
                response="Ack",
                body="ConfirmPasswordRequest",
                auth=False,
            )
        },
        "/auth/me": {"get": _op("me", "The caller's profile", tag=auth, response="UserProfile")},
        "/admin/credentials": {
            "post": _op(
                "createCredential",
                "Create a client credential (scope admin; the secret is returned once)",
                tag="admin",
                ok="201",
                response="CredentialCreated",
                body="CredentialCreate",
                params=[_IDEMPOTENCY],
            ),
            "get": _op(
                "listCredentials",
                "List client credentials (scope admin)",
                tag="admin",
                response="CredentialList",
                params=[
                    _q("issuedTo", {"type": "string"}),
                    _q("tenantId", {"type": "string"}),
                    _q("scope", {"type": "string"}),
                    _q("active", {"type": "boolean"}),
                    _q("limit", {"type": "integer", "minimum": 1, "maximum": 100}),
                    _q("nextToken", {"type": "string"}),
                ],
            ),
        },
        "/admin/credentials/{id}": {
            "get": _op("getCredential", "Get a credential", tag="admin", response="Credential", params=[_ID]),
            "patch": _op(
                "updateCredential",
                "Update a credential",
                tag="admin",
                response="Credential",
                body="CredentialUpdate",
                params=[_ID],
            ),
            "delete": _op("deleteCredential", "Delete a credential", tag="admin", ok="204", params=[_ID]),
        },
        "/generate-upload-url": {
            "post": _op(
                "generateUploadUrl",
                "A pre-signed upload URL",
                tag="storage",
                response="UploadUrl",
                body="UploadUrlRequest",
                params=[_IDEMPOTENCY],
            )
        },
        "/generate-download-url": {
            "post": _op(
                "generateDownloadUrl",
                "A pre-signed download URL",
                tag="storage",
                response="DownloadUrl",
                body="DownloadUrlRequest",
            )
        },
        "/prompts": {
            "post": _op(
                "createPrompt",
                "Create a prompt",
                tag="ai",
                ok="201",
                response="Prompt",
                body="PromptInput",
                params=[_IDEMPOTENCY],
            ),
            "get": _op(
                "listPrompts",
                "List prompts",
                tag="ai",
                response="PromptList",
                params=[
                    _q("modelId", {"type": "string"}),
                    _q("tags", {"type": "string"}, "comma-separated; a prompt must have all of them"),
                    _q("maxResults", {"type": "integer", "minimum": 1, "maximum": 100}),
                    _q("nextToken", {"type": "string"}),
                ],
            ),
        },
        "/prompts/{id}": {
            "get": _op("getPrompt", "Get a prompt", tag="ai", response="Prompt", params=[_ID]),
            "put": _op(
                "updatePrompt",
                "Update a prompt (version + 1)",
                tag="ai",
                response="Prompt",
                body="PromptUpdate",
                params=[_ID],
            ),
            "delete": _op("deletePrompt", "Delete a prompt", tag="ai", ok="204", params=[_ID]),
        },
        "/v1/prompt": {
            "post": _op(
                "runTask",
                "Run a task (deterministic in the sandbox)",
                tag="ai",
                response="TaskResult",
                body="TaskRequest",
            )
        },
        "/ingest/text": {
            "post": _op(
                "ingestText",
                "Ingest text (or, without content, get a pre-signed upload ticket: 200 UploadTicket)",
                tag="ingest",
                ok="202",
                response="ContentItem",
                body="IngestText",
                params=[_IDEMPOTENCY],
            )
        },
        "/ingest/url": {
            "post": _op(
                "ingestUrl",
                "Ingest a URL (fetched in the background)",
                tag="ingest",
                ok="202",
                response="ContentItem",
                body="IngestUrl",
                params=[_IDEMPOTENCY],
            )
        },
        "/ingest/file": {
            "post": _op(
                "ingestFile",
                "Ingest a file (multipart), or request a pre-signed upload (JSON: 200 UploadTicket)",
                tag="ingest",
                ok="202",
                response="ContentItem",
                params=[_IDEMPOTENCY],
                request_body={
                    "required": True,
                    "content": {
                        "multipart/form-data": {"schema": _ref("IngestFileForm")},
                        "application/json": {"schema": _ref("IngestFileRequest")},
                    },
                },
            )
        },
        "/content": {
            "get": _op(
                "listContent",
                "List content items",
                tag="ingest",
                response="ContentList",
                params=[
                    _q("status", {"type": "string"}),
                    _q("sourceType", {"type": "string"}),
                    _q("limit", {"type": "integer", "minimum": 1, "maximum": 100}),
                    _q("nextToken", {"type": "string"}),
                ],
            )
        },
        "/content/{id}": {
            "get": _op("getContent", "Get a content item", tag="ingest", response="ContentItem", params=[_ID]),
            "patch": _op(
                "updateContent",
                "Update a content item",
                tag="ingest",
                response="ContentItem",
                body="ContentUpdate",
                params=[_ID],
            ),
            "delete": _op("deleteContent", "Delete a content item", tag="ingest", ok="204", params=[_ID]),
        },
        "/content/{id}/download-url": {
            "get": _op("getContentDownloadUrl", "A download URL", tag="ingest", response="DownloadUrl", params=[_ID])
        },
        "/content/{id}/text": {
            "get": _op("getContentText", "The extracted text", tag="ingest", response="TextContent", params=[_ID]),
            "put": _op("putContentText", "Replace the text", tag="ingest", ok="204", body="TextUpdate", params=[_ID]),
        },
    }
    # Both answers of the "text, or a pre-signed ticket" endpoints.
    for path in ("/ingest/text", "/ingest/file"):
        op = paths[path]["post"]
        base = _op("x", "x", tag="ingest", ok="202", response="ContentItem")["responses"]
        op["responses"] = {**base, "200": {"description": "A pre-signed upload ticket", **_json(_ref("UploadTicket"))}}
    schemas = dict(SCHEMAS)
    schemas["CredentialCreated"] = {
        "allOf": [_ref("Credential"), _obj(["client_secret"], client_secret=_s())],
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Atriumn API",
            "version": __version__,
            "description": (
                "The Atriumn service API (auth, storage, ai, ingest) as the SDKs speak it. Every error is "
                '`{"error": code, "error_description": text}`; every response carries `x-request-id`.'
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }


def main(argv: list[str] | None = None) -> None:
    """Write the document as YAML (``*.yaml``) or JSON to the path given, or JSON to stdout."""
    args = sys.argv[1:] if argv is None else argv
    document = json.loads(json.dumps(build_openapi()))  # no shared objects: no YAML anchors
    if not args:
        print(json.dumps(document, indent=2))
        return
    path = args[0]
    if path.endswith((".yaml", ".yml")):
        import yaml

        text = "# Generated from atriumn.sandbox._openapi: python -m atriumn.sandbox._openapi docs/openapi.yaml\n"
        text += yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=120)
    else:
        text = json.dumps(document, indent=2) + "\n"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


if __name__ == "__main__":
    main()
