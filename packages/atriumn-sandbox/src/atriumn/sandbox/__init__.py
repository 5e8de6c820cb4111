"""A local, offline Atriumn server with LLM provider emulation, for development, demos and tests.

::

    from atriumn.sandbox import Sandbox

    with Sandbox() as sandbox:
        print(sandbox.url, sandbox.admin_client_id, sandbox.admin_client_secret)

See ``docs/sandbox.md`` for the fixture, the CLI, fault injection and the outbox.
"""

from ._app import SandboxApp, create_app, load_openapi
from ._config import SandboxConfig
from ._faults import FAULT_HEADER
from ._server import Sandbox
from ._version import __version__

__all__ = ["FAULT_HEADER", "Sandbox", "SandboxApp", "SandboxConfig", "__version__", "create_app", "load_openapi"]
