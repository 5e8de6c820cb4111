"""Auth API over real sockets: tokens, users, sessions, admin credentials."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx2

from atriumn.sandbox import Sandbox

from .helpers import Api, assert_error, token_for, wait_for


def test_health(sandbox: Sandbox) -> None:
    response = httpx2.get(f"{sandbox.url}/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.headers["x-request-id"]


def test_client_credentials_token(sandbox: Sandbox) -> None:
    body = {
        "grant_type": "client_credentials",
        "client_id": sandbox.admin_client_id,
        "client_secret": sandbox.admin_client_secret,
    }
    response = httpx2.post(f"{sandbox.url}/auth/token", json=body)
    assert response.status_code == 200
    token = response.json()
    assert token["token_type"] == "Bearer"
    assert token["scope"] == "admin"
    assert token["expires_in"] == 3600
    assert "refresh_token" not in token
    # the form-encoded OAuth shape works too
    form = httpx2.post(f"{sandbox.url}/auth/token", data=body)
    assert form.status_code == 200


def test_token_errors(sandbox: Sandbox) -> None:
    url = f"{sandbox.url}/auth/token"
    bad = {"grant_type": "client_credentials", "client_id": sandbox.admin_client_id, "client_secret": "nope"}
    assert_error(httpx2.post(url, json=bad), 401, "unauthorized")
    unknown = {**bad, "client_id": "nobody"}
    assert_error(httpx2.post(url, json=unknown), 401, "unauthorized")
    assert_error(httpx2.post(url, json={"grant_type": "password"}), 400, "bad_request")
    assert_error(httpx2.post(url, json={"client_id": "x"}), 400, "bad_request")
    wider = {**bad, "client_secret": sandbox.admin_client_secret, "scope": "admin root"}
    assert_error(httpx2.post(url, json=wider), 400, "bad_request")
    assert_error(httpx2.post(url, json={"grant_type": "refresh_token", "refresh_token": "x"}), 401, "unauthorized")


def _signup(sandbox: Sandbox, email: str, password: str = "correct horse") -> str:
    response = httpx2.post(
        f"{sandbox.url}/auth/signup", json={"email": email, "password": password, "attributes": {"name": "Ada"}}
    )
    assert response.status_code == 200, response.text
    assert response.json()["user_confirmed"] is False
    return str(response.json()["user_id"])


def _confirmed_user(sandbox: Sandbox, password: str = "correct horse") -> str:
    email = f"user-{uuid.uuid4().hex[:8]}@example.com"
    _signup(sandbox, email, password)
    code = sandbox.last_code(email, "signup")
    confirm = httpx2.post(f"{sandbox.url}/auth/signup/confirm", json={"username": email, "confirmation_code": code})
    assert confirm.status_code == 200, confirm.text
    return email


def test_signup_confirm_login_me_refresh_logout(sandbox: Sandbox) -> None:
    url = sandbox.url
    email = f"user-{uuid.uuid4().hex[:8]}@example.com"
    user_id = _signup(sandbox, email)
    login = {"username": email, "password": "correct horse"}
    assert_error(httpx2.post(f"{url}/auth/login", json=login), 403, "forbidden")  # not confirmed yet
    wrong = httpx2.post(f"{url}/auth/signup/confirm", json={"username": email, "confirmation_code": "000000x"})
    assert_error(wrong, 400, "bad_request")

    resend = httpx2.post(f"{url}/auth/signup/resend", json={"username": email})
    assert resend.status_code == 200
    details = resend.json()["code_delivery_details"]
    assert details["delivery_medium"] == "EMAIL"
    assert details["attribute_name"] == "email"
    assert details["destination"].startswith(email[0])
    assert "***" in details["destination"]

    outbox = httpx2.get(f"{url}/_sandbox/outbox", params={"to": email}).json()["messages"]
    assert [m["purpose"] for m in outbox] == ["signup", "signup"]
    code = outbox[-1]["code"]
    ok = httpx2.post(f"{url}/auth/signup/confirm", json={"username": email, "confirmation_code": code})
    assert ok.status_code == 200

    assert_error(httpx2.post(f"{url}/auth/login", json={**login, "password": "wrong pass"}), 401, "unauthorized")
    tokens = httpx2.post(f"{url}/auth/login", json=login).json()
    assert {"access_token", "id_token", "refresh_token", "token_type", "expires_in", "scope"} <= set(tokens)

    me = httpx2.get(f"{url}/auth/me", headers={"authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200
    assert me.json()["username"] == email
    assert me.json()["attributes"]["name"] == "Ada"
    assert me.json()["attributes"]["sub"] == user_id

    refreshed = httpx2.post(
        f"{url}/auth/token", json={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 200
    new_access = refreshed.json()["access_token"]
    assert new_access != tokens["access_token"]

    out = httpx2.post(f"{url}/auth/logout", json={"access_token": tokens["access_token"]})
    assert out.status_code == 200
    for token in (tokens["access_token"], new_access):  # the whole session is revoked
        assert_error(httpx2.get(f"{url}/auth/me", headers={"authorization": f"Bearer {token}"}), 401, "unauthorized")
    again = httpx2.post(
        f"{url}/auth/token", json={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert_error(again, 401, "unauthorized")


def test_signup_validation(sandbox: Sandbox) -> None:
    url = f"{sandbox.url}/auth/signup"
    assert_error(httpx2.post(url, json={"email": "not-an-email", "password": "long enough"}), 400, "bad_request")
    assert_error(httpx2.post(url, json={"email": "a@example.com", "password": "short"}), 400, "bad_request")
    assert_error(httpx2.post(url, json={"email": 5, "password": "long enough"}), 400, "bad_request")
    email = _confirmed_user(sandbox)
    assert_error(httpx2.post(url, json={"email": email, "password": "long enough"}), 409, "conflict")


def test_password_reset(sandbox: Sandbox) -> None:
    url = sandbox.url
    email = _confirmed_user(sandbox)
    reset = httpx2.post(f"{url}/auth/password/reset", json={"email": email})
    assert reset.status_code == 200
    assert reset.json()["code_delivery_details"]["delivery_medium"] == "EMAIL"
    code = sandbox.last_code(email, "password_reset")
    bad = httpx2.post(
        f"{url}/auth/password/confirm", json={"email": email, "code": "nope", "new_password": "new pass 1"}
    )
    assert_error(bad, 400, "bad_request")
    ok = httpx2.post(f"{url}/auth/password/confirm", json={"email": email, "code": code, "new_password": "new pass 1"})
    assert ok.status_code == 200
    assert_error(
        httpx2.post(f"{url}/auth/login", json={"username": email, "password": "correct horse"}), 401, "unauthorized"
    )
    assert httpx2.post(f"{url}/auth/login", json={"username": email, "password": "new pass 1"}).status_code == 200
    # a code works once
    reused = httpx2.post(f"{url}/auth/password/confirm", json={"email": email, "code": code, "new_password": "x" * 9})
    assert_error(reused, 400, "bad_request")
    unknown = httpx2.post(f"{url}/auth/password/reset", json={"email": "nobody@example.com"})
    assert_error(unknown, 404, "not_found")


def test_me_requires_a_valid_token(sandbox: Sandbox) -> None:
    assert_error(httpx2.get(f"{sandbox.url}/auth/me"), 401, "unauthorized")
    bad = httpx2.get(f"{sandbox.url}/auth/me", headers={"authorization": "Bearer a.b"})
    assert_error(bad, 401, "unauthorized")
    assert bad.headers["www-authenticate"] == "Bearer"


def test_short_token_ttl_expires_and_refresh_works(atriumn_sandbox_factory: Callable[..., Sandbox]) -> None:
    sandbox = atriumn_sandbox_factory(token_ttl=1)
    email = _confirmed_user(sandbox)
    tokens = httpx2.post(f"{sandbox.url}/auth/login", json={"username": email, "password": "correct horse"}).json()
    assert tokens["expires_in"] == 1
    headers = {"authorization": f"Bearer {tokens['access_token']}"}
    assert httpx2.get(f"{sandbox.url}/auth/me", headers=headers).status_code == 200
    wait_for(lambda: httpx2.get(f"{sandbox.url}/auth/me", headers=headers).status_code == 401, timeout=5)
    refreshed = httpx2.post(
        f"{sandbox.url}/auth/token", json={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    ).json()
    me = httpx2.get(f"{sandbox.url}/auth/me", headers={"authorization": f"Bearer {refreshed['access_token']}"})
    assert me.status_code == 200


def test_admin_credentials_crud(sandbox: Sandbox, admin: Api) -> None:
    tenant = f"tenant-{uuid.uuid4().hex[:8]}"
    created = admin.post(
        "/admin/credentials",
        json={"issued_to": "crud-test", "scopes": ["content"], "description": "d", "tenant_id": tenant},
    )
    assert created.status_code == 201
    cred = created.json()
    assert cred["client_secret"]
    assert cred["tenant_id"] == tenant
    assert cred["active"] is True
    assert cred["scopes"] == ["content"]
    assert "secret_hash" not in cred

    fetched = admin.get(f"/admin/credentials/{cred['id']}").json()
    assert "client_secret" not in fetched
    assert fetched["client_id"] == cred["client_id"]

    token = token_for(sandbox, cred["client_id"], cred["client_secret"])
    me = httpx2.get(f"{sandbox.url}/auth/me", headers={"authorization": f"Bearer {token}"}).json()
    assert me["attributes"]["tenant_id"] == tenant

    listed = admin.get("/admin/credentials", params={"tenantId": tenant}).json()["credentials"]
    assert [c["id"] for c in listed] == [cred["id"]]
    assert (
        admin.get("/admin/credentials", params={"issuedTo": "crud-test", "scope": "admin"}).json()["credentials"] == []
    )

    patched = admin.patch(f"/admin/credentials/{cred['id']}", json={"active": False, "description": "off"})
    assert patched.status_code == 200
    assert patched.json()["active"] is False
    assert patched.json()["description"] == "off"
    inactive = admin.get("/admin/credentials", params={"tenantId": tenant, "active": "false"}).json()
    assert [c["id"] for c in inactive["credentials"]] == [cred["id"]]
    assert admin.get("/admin/credentials", params={"tenantId": tenant, "active": "true"}).json()["credentials"] == []
    # an inactive credential's tokens stop working, and it cannot get new ones
    assert_error(
        httpx2.get(f"{sandbox.url}/auth/me", headers={"authorization": f"Bearer {token}"}), 401, "unauthorized"
    )
    again = httpx2.post(
        f"{sandbox.url}/auth/token",
        json={
            "grant_type": "client_credentials",
            "client_id": cred["client_id"],
            "client_secret": cred["client_secret"],
        },
    )
    assert_error(again, 401, "unauthorized")

    assert admin.delete(f"/admin/credentials/{cred['id']}").status_code == 204
    assert_error(admin.get(f"/admin/credentials/{cred['id']}"), 404, "not_found")
    assert_error(admin.delete(f"/admin/credentials/{cred['id']}"), 404, "not_found")


def test_admin_pagination(admin: Api) -> None:
    tenant = f"tenant-{uuid.uuid4().hex[:8]}"
    ids = [
        admin.post("/admin/credentials", json={"issued_to": "p", "scopes": [], "tenant_id": tenant}).json()["id"]
        for _ in range(3)
    ]
    page = admin.get("/admin/credentials", params={"tenantId": tenant, "limit": 2}).json()
    assert [c["id"] for c in page["credentials"]] == ids[:2]
    rest = admin.get("/admin/credentials", params={"tenantId": tenant, "limit": 2, "nextToken": page["next_token"]})
    assert [c["id"] for c in rest.json()["credentials"]] == ids[2:]
    assert rest.json()["next_token"] is None
    assert_error(admin.get("/admin/credentials", params={"nextToken": "garbage!"}), 400, "bad_request")
    assert_error(admin.get("/admin/credentials", params={"active": "maybe"}), 400, "bad_request")


def test_admin_endpoints_need_admin_scope(api: Api, admin: Api) -> None:
    assert_error(api.get("/admin/credentials"), 403, "forbidden")
    assert_error(api.post("/admin/credentials", json={"issued_to": "x", "scopes": []}), 403, "forbidden")
    assert_error(httpx2.get(f"{api.sandbox.url}/admin/credentials"), 401, "unauthorized")
    assert_error(admin.post("/admin/credentials", json={"issued_to": "x"}), 400, "bad_request")
    assert_error(admin.post("/admin/credentials", json={"issued_to": "x", "scopes": "admin"}), 400, "bad_request")
    assert_error(admin.patch("/admin/credentials/nope", json={"active": True}), 404, "not_found")
