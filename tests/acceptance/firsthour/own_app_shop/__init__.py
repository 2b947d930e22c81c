"""An app whose tasks.py builds its own OneStepApp (as in a onestep script), not the project app."""
