"""No two modules share a name, except the roles every transport package fills."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import django_onestep

PACKAGE = Path(django_onestep.__file__).parent
# Same role in each transport package (and the database queue, itself a transport).
TRANSPORT_ROLES = {"connector", "queue", "delivery", "classify", "resource_types"}


def _module_paths() -> dict[str, list[str]]:
    names: dict[str, list[str]] = defaultdict(list)
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        if path.stem == "__init__" or relative.parts[0] == "migrations":
            continue
        names[path.stem].append(str(relative))
    return names


def test_no_two_modules_share_a_name() -> None:
    shared = {name: paths for name, paths in _module_paths().items() if len(paths) > 1}
    unexpected = {name: paths for name, paths in shared.items() if name not in TRANSPORT_ROLES}
    assert not unexpected, f"modules sharing a name: {unexpected}"


def test_shared_role_names_live_only_in_transport_packages() -> None:
    transports = {
        "connectors/redis",
        "connectors/rabbitmq",
        "connectors/sqs",
        "connectors/mysql",
        "connectors/stepfunctions",
        "dbqueue",
        "project",
    }
    for name in TRANSPORT_ROLES:
        for path in _module_paths().get(name, []):
            assert str(Path(path).parent) in transports, path
