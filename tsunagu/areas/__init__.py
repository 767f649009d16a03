"""The CLI of each service's area (``register(app)``); they call the services, never the reverse."""
