"""A signed-in user: log in once, stay signed in (refresh tokens), even in the next process.

Reads ATRIUMN_API_BASE_URL, ATRIUMN_USERNAME and ATRIUMN_PASSWORD. The session is saved in the OS keyring
under the profile "default"; the second half reads it back as another process would.
"""

from __future__ import annotations

import os

from atriumn.auth import AuthClient, UserSession


def main() -> None:
    session = UserSession.login(
        username=os.environ["ATRIUMN_USERNAME"], password=os.environ["ATRIUMN_PASSWORD"], profile="default"
    )
    with AuthClient(credentials=session) as auth:
        print("hello,", auth.me().username)

    # Later, or in another process: no password needed, the refresh token is in the keyring.
    again = UserSession.from_profile("default")
    with AuthClient(credentials=again) as auth:
        print("still signed in as", auth.me().username)

    again.logout()  # revokes the session on the server and removes it from the keyring
    print("signed out")


if __name__ == "__main__":
    main()
