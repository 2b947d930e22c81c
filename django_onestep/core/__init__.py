"""The runtime core: pure asyncio, no Django import (a test enforces it).

Import names from their modules (``django_onestep.core.runtime.app``) or from the package
root (``django_onestep``), which re-exports them lazily.
"""
