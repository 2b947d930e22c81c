"""Project glue: the project-wide ``app``, the defaults the Django layer adds to any app,
tasks declared in ``ONESTEP`` settings, and the Django resource types for YAML."""
