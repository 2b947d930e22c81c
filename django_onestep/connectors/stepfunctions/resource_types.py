"""YAML resource types ``stepfunctions`` and ``stepfunctions_activity``.

    resources:
      aws: {type: stepfunctions, region_name: eu-west-1}
      resize: {type: stepfunctions_activity, connector: aws, arn: "${RESIZE_ACTIVITY_ARN}", heartbeat_s: 20}

boto3 itself is only imported when an activity is used.
"""

from __future__ import annotations

from typing import Any

from django_onestep.connectors.stepfunctions.activity import ActivitySource
from django_onestep.connectors.stepfunctions.connector import StepFunctionsConnector
from django_onestep.core.declarative.registry import ResourceContext, register_resource_type

__all__ = ["register"]

_ACTIVITY_FIELDS = frozenset({"connector", "arn", "heartbeat_s", "worker_name", "poll_interval_s"})


def _connector(ctx: ResourceContext, spec: dict[str, Any]) -> StepFunctionsConnector:
    kwargs: dict[str, Any] = {}
    if "max_threads" in spec:
        kwargs["max_threads"] = ctx.integer("max_threads", minimum=2)
    return StepFunctionsConnector(
        ctx.optional_string("region_name"),
        options=ctx.mapping("options"),
        endpoint_url=ctx.optional_string("endpoint_url"),
        **kwargs,
    )


def _activity(ctx: ResourceContext, spec: dict[str, Any]) -> ActivitySource:
    connector = ctx.reference("connector")
    if not isinstance(connector, StepFunctionsConnector):
        raise ctx.error("connector", f"must name a 'stepfunctions' resource, got {type(connector).__name__}")
    # heartbeat_s: null means no heartbeats, so it is passed on even when None
    kwargs: dict[str, Any] = {
        key: ctx.number(key) for key in ("heartbeat_s", "poll_interval_s") if key in spec
    }
    if "worker_name" in spec:
        kwargs["worker_name"] = ctx.text("worker_name")
    return connector.activity(ctx.string("arn"), **kwargs)


def register() -> None:
    register_resource_type(
        "stepfunctions",
        _connector,
        fields=frozenset({"region_name", "endpoint_url", "options", "max_threads"}),
    )
    register_resource_type("stepfunctions_activity", _activity, fields=_ACTIVITY_FIELDS)
