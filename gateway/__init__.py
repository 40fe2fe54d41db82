"""Assembly: settings, the Starlette app, the worker and the CLI."""
