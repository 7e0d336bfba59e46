"""One `ZoomClient` per Zoom account, made on first use and shared by every thread.

Follow-ups call Zoom with the credentials of the account that sent the event; each account has
its own token (in the shared token store) and its own pace (in the governor).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from service.apps import Apps, Credentials

from .client import ZoomClient


class ZoomClients:
    def __init__(self, apps: Apps, make: Callable[[Credentials], ZoomClient]) -> None:
        self.apps = apps
        self._make = make
        self._lock = threading.Lock()
        self._clients: dict[str, ZoomClient] = {}

    def __repr__(self) -> str:
        return f"<ZoomClients accounts={sorted(self._clients)}>"

    def for_account(self, account_id: str | None, app: str | None = None) -> ZoomClient | None:
        """The client for `account_id`'s credentials; None when no app can call Zoom for it.

        `app` (the app that verified the event) binds the account: see `Apps.credentials_for`,
        which raises NotBound for an account the app does not serve.
        """
        credentials = self.apps.credentials_for(account_id, app=app)
        if credentials is None:
            return None
        with self._lock:
            client = self._clients.get(credentials.account_id)
            if client is None:
                client = self._clients[credentials.account_id] = self._make(credentials)
            return client

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()
