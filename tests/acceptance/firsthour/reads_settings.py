"""A module (used as a URLconf and as a tasks module) that reads the ONESTEP settings."""

from django_onestep.conf import onestep_settings

LEASE_S = onestep_settings.LEASE_S
urlpatterns: list[object] = []
