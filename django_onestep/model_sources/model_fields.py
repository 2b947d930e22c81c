"""Checks of the field names a model source or sink is given, against the model's meta."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import FieldDoesNotExist

from django_onestep.core.errors import ConfigurationError

__all__ = ["checked_fields", "unique_field_sets"]


def checked_fields(owner: str, model: Any, option: str, names: Any) -> tuple[str, ...]:
    """``names`` as a tuple, each a concrete non-relation field of ``model``."""
    if isinstance(names, str) or not isinstance(names, list | tuple):
        raise ConfigurationError(f"{owner} {option}: must be a list of field names, got {names!r}")
    for name in names:
        try:
            field = model._meta.get_field(name)
        except (FieldDoesNotExist, TypeError):
            known = ", ".join(f.name for f in model._meta.concrete_fields)
            raise ConfigurationError(
                f"{owner} {option}: {name!r} is not a field of {model.__name__} ({known})"
            ) from None
        if not field.concrete or field.is_relation:
            raise ConfigurationError(f"{owner} {option}: {name!r} must be a plain column, not a relation")
    return tuple(names)


def unique_field_sets(model: Any) -> list[set[str]]:
    """The field sets the database enforces as unique: the pk, unique fields, unique constraints."""
    from django.db.models import UniqueConstraint

    meta = model._meta
    sets = [{meta.pk.name}] + [{f.name} for f in meta.concrete_fields if f.unique]
    sets += [set(fields) for fields in meta.unique_together]
    sets += [
        set(c.fields)
        for c in meta.constraints
        if isinstance(c, UniqueConstraint) and c.fields and c.condition is None
    ]
    return sets
