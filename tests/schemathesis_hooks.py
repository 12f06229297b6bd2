"""Schemathesis hooks for the operator document's run (loaded through SCHEMATHESIS_HOOKS).

``PUT /_mock/scenario`` also takes TOML text; Schemathesis has no TOML serializer, and the text is
sent as it is, as for text/plain.
"""

import schemathesis

schemathesis.serializer.alias(["application/toml", "text/toml", "text/x-toml"], "text/plain")
