"""Apps declared as data (YAML files, settings): the loader, the resource-type registry,
``${VAR}`` expansion, the ``check`` report and the ``python -m django_onestep`` CLI."""
