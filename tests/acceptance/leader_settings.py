"""The test settings with a 3-second lease, so a leader's failover is quick to see."""

from testproject.settings import *  # noqa: F403

ONESTEP = {**ONESTEP, "LEASE_S": 3.0}  # noqa: F405
