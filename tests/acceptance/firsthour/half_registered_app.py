"""An app that outlives the imports of ``half_registered_urls`` (as the project app does)."""

from django_onestep import OneStepApp

app = OneStepApp("half-registered")
