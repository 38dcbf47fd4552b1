"""Sphinx extension: the kernels that execute the chapters use an encrypted transport.

ipykernel 7.4 logs ``WARNING | Kernel is running over TCP without encryption`` when
it starts on TCP without CurveZMQ keys: once per chapter, in every build.
jupyter_client 8.10 can give each kernel CurveZMQ keys itself
(``KernelManager.transport_encryption = "auto"`` provisions them when the kernelspec
lists "curve" in ``metadata.supported_encryption``,
which ipykernel's own kernelspec does), but the policy defaults to "disabled", and
myst-nb 1.4 creates its kernel managers through jupyter-cache and nbclient without any
way to pass them configuration. This extension therefore changes the trait's default
for the build process, so that every kernel it starts is encrypted. The warning then
disappears because its cause has gone, not because the log was silenced.

The test suite (tests/conftest.py) and ``tools.refresh_outputs`` call
:func:`encrypt_kernel_transport` too, so nbval's kernels are started the same way.
"""

from __future__ import annotations

import zmq
from jupyter_client.manager import KernelManager


def encrypt_kernel_transport() -> None:
    """Make every KernelManager created later in this process provision CurveZMQ keys.

    Raises
    ------
    RuntimeError
        If this pyzmq's libzmq was built without CurveZMQ (then no encryption is
        possible and the build would silently stay in plain text).
    """
    if not zmq.has("curve"):
        raise RuntimeError(
            "pyzmq was built without CurveZMQ: kernels cannot be encrypted"
        )
    # A class-level TraitType is the descriptor shared by KernelManager and its
    # subclasses (nbclient uses AsyncKernelManager): its default applies to all of them.
    KernelManager.transport_encryption.default_value = "auto"


def setup(app):
    """Register the extension (Sphinx entry point)."""
    encrypt_kernel_transport()
    return {"parallel_read_safe": True, "parallel_write_safe": True}
