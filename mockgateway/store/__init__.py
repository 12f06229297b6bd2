"""The one owner of gateway state, behind one protocol with three backends.

``memory`` (default, this process), ``sqlite`` (a file: restarts and SIGKILL lose nothing) and
``redis`` (a server: replicas act as one gateway). The gateway's services ask the store; nothing
else holds state. See :mod:`mockgateway.store._protocol` for the rules every backend keeps.
"""

from ._config import Backend, StateConfig, read_state, state_from_option
from ._memory import MemoryStore
from ._open import make_store
from ._protocol import Event, Store
from ._types import (
    DEADLINE,
    FORGOTTEN_UNTIL,
    LAYOUT_VERSION,
    START,
    WEBHOOK,
    DeliveryRecord,
    JournalStats,
    Page,
    Retention,
    StoreError,
    StoreUnavailable,
    Task,
    TaskKind,
)

__all__ = [
    "DEADLINE",
    "FORGOTTEN_UNTIL",
    "LAYOUT_VERSION",
    "START",
    "WEBHOOK",
    "Backend",
    "DeliveryRecord",
    "Event",
    "JournalStats",
    "MemoryStore",
    "Page",
    "Retention",
    "StateConfig",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "Task",
    "TaskKind",
    "make_store",
    "read_state",
    "state_from_option",
]
