"""Machine-to-machine access: a client credential's tokens, fetched once, cached and refreshed for you.

Reads ATRIUMN_API_BASE_URL, ATRIUMN_CLIENT_ID and ATRIUMN_CLIENT_SECRET (an admin credential, for the
second half). Against the embedded sandbox: ``atriumn-sandbox`` prints the bootstrap admin credential.
"""

from __future__ import annotations

from atriumn.auth import AuthClient, ClientCredentials, DefaultCredential


def main() -> None:
    # DefaultCredential finds ATRIUMN_CLIENT_ID + ATRIUMN_CLIENT_SECRET in the environment (or an API key,
    # or a saved sign-in) and becomes a ClientCredentials provider.
    credentials = DefaultCredential()
    with AuthClient(credentials=credentials) as auth:
        print("signed in as", auth.me().username)

        # Admin: issue a credential for a service, use it, then retire it.
        issued = auth.create_client_credential(issued_to="reporting-job", scopes=["storage"], description="nightly")
        print("created", issued.client_id, "- its secret is shown only now:", bool(issued.client_secret))

        job = ClientCredentials(client_id=issued.client_id, client_secret=issued.client_secret)
        with AuthClient(credentials=job) as as_job:
            print("the job is", as_job.me().username)

        for credential in auth.list_client_credentials(issued_to="reporting-job", active=True):
            print("active:", credential.client_id, credential.scopes)
        auth.update_client_credential(issued.id, active=False)
        auth.delete_client_credential(issued.id)
        print("retired", issued.client_id)


if __name__ == "__main__":
    main()
