"""Chunk payloads too large for a row live in a Django storage (the default one, or a
named entry of ``STORAGES``: S3 through django-storages, say).

The row then keeps only ``payload_file = "<storage alias>:<name>"``, so the chunks
table stays small and reservation reads stay cheap; purging a submission deletes the
files.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.files.base import ContentFile

from django_onestep.core.errors import ConfigurationError

__all__ = ["check_storage", "delete_payload", "encode_ops", "load_payload", "save_payload"]


def _storage(alias: str) -> Any:
    from django.core.files.storage import InvalidStorageError, storages

    try:
        return storages[alias]
    except InvalidStorageError as exc:
        raise ConfigurationError(
            f"submit: storage {alias!r} is not a key of the STORAGES setting; name one that is "
            "(or leave it as 'default')"
        ) from exc


def check_storage(alias: str) -> None:
    _storage(alias)


def encode_ops(ops: list[Any]) -> bytes:
    from django.core.serializers.json import DjangoJSONEncoder

    return json.dumps(ops, cls=DjangoJSONEncoder, separators=(",", ":")).encode()


def save_payload(alias: str, submission_id: int, index: int, data: bytes) -> str:
    name = _storage(alias).save(f"onestep/submissions/{submission_id}/{index}.json", ContentFile(data))
    return f"{alias}:{name}"


def load_payload(payload: Any, payload_file: str) -> list[Any]:
    if not payload_file:
        return list(payload or [])
    alias, _, name = payload_file.partition(":")
    with _storage(alias).open(name, "rb") as handle:
        return list(json.loads(handle.read()))


def delete_payload(payload_file: str) -> None:
    alias, _, name = payload_file.partition(":")
    _storage(alias).delete(name)
