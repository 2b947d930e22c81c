"""How a ``ModelQueue`` row's primary key is kept as text in its ``RowClaim``.

The claim table serves every model, so it keeps the key as text (``row_key``). The text
is chosen so the database can compare it with the key column itself: a claim query
excludes claimed rows with a subquery, never by loading the claimed keys. Integers
are cast back to a big integer (no collation mixes in); UUIDs are kept as the 32 hex
digits Django stores on databases without a native UUID type, and cast to ``uuid``
where there is one; text keys are compared as they are.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import BigIntegerField, Expression, F, UUIDField
from django.db.models.functions import Cast

from django_onestep.core.errors import ConfigurationError

__all__ = ["RowKeys"]

_INTEGER_KEYS = frozenset({
    "AutoField", "BigAutoField", "SmallAutoField", "IntegerField", "BigIntegerField", "SmallIntegerField",
    "PositiveIntegerField", "PositiveBigIntegerField", "PositiveSmallIntegerField",
})  # fmt: skip
_TEXT_KEYS = frozenset({"CharField", "SlugField"})
_ROW_KEY_MAX_LENGTH = 191  # RowClaim.row_key's max_length


class RowKeys:
    """Text form of one model's primary keys, and the expression that reads it back."""

    def __init__(self, owner: str, model: Any) -> None:
        pk = model._meta.pk
        self.kind = pk.get_internal_type()
        if self.kind not in _INTEGER_KEYS | _TEXT_KEYS | {"UUIDField"}:
            raise ConfigurationError(
                f"{owner}: the primary key {pk.name!r} is a {self.kind}; ModelQueue supports integer, "
                "UUID, CharField and SlugField primary keys"
            )
        if self.kind in _TEXT_KEYS and (pk.max_length or 0) > _ROW_KEY_MAX_LENGTH:
            raise ConfigurationError(
                f"{owner}: the primary key {pk.name!r} allows {pk.max_length} characters; "
                f"ModelQueue keeps keys of at most {_ROW_KEY_MAX_LENGTH}"
            )
        self._to_python = pk.to_python

    def text(self, pk: Any) -> str:
        if self.kind == "UUIDField":
            return uuid.UUID(str(pk)).hex
        return str(pk)

    def pk(self, text: str) -> Any:
        return self._to_python(text)

    def column(self) -> Expression | F:
        """``row_key`` as the key column's type, for ``pk__in`` subqueries."""
        if self.kind in _INTEGER_KEYS:
            return Cast("row_key", BigIntegerField())
        if self.kind == "UUIDField":
            return Cast("row_key", UUIDField())
        return F("row_key")
