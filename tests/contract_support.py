"""The served OpenAPI document of a running gateway, and a copy of it tools can read from a file.

The document's file references (``generate-accepted.schema.json`` and the others) name the
contract's schema files, so a copy is written beside copies of them.
"""

from __future__ import annotations

import json
import shutil
import tomllib
import urllib.request
from pathlib import Path
from typing import Any

from mockgateway import GatewayConfig, config_from_mapping
from mockgateway.contract import schema_dir

REPO = Path(__file__).resolve().parent.parent
MODELS_TOML = REPO / "examples" / "models.toml"


def models_config(**sections: dict[str, Any]) -> GatewayConfig:
    """examples/models.toml, with ``sections`` added (such as ``clock={"mode": "manual"}``)."""
    data = tomllib.loads(MODELS_TOML.read_text())
    return config_from_mapping(
        {**data, **sections}, source=str(MODELS_TOML), base_dir=MODELS_TOML.parent
    )


def served_document(url: str, token: str | None = None) -> dict[str, Any]:
    """``GET /_mock/openapi.json`` of the gateway at ``url``."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(f"{url}/_mock/openapi.json", headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("application/json")
        document: dict[str, Any] = json.load(response)
        return document


def saved_beside_schemas(document: dict[str, Any], directory: Path) -> Path:
    """``document`` written to ``directory/openapi.json`` with the schema files it refers to."""
    directory.mkdir(parents=True, exist_ok=True)
    for schema in schema_dir().glob("*.schema.json"):
        shutil.copy(schema, directory / schema.name)
    path = directory / "openapi.json"
    path.write_text(json.dumps(document, indent=2))
    return path
