"""pytest plugin registered by the ``pytest11`` entry point; fixtures are added here."""
