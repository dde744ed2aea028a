"""The peer connectors: virtual environments with the published packages (`install.py`), and one launcher
script per peer that runs inside that environment, points the peer's code at the sandbox and starts its
own entry point. Nothing of the peers' code is copied or committed."""
