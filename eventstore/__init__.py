"""The event-store kit: the only code that knows JetStream headers and consumer mechanics."""
