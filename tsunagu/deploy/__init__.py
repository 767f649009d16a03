"""Deployment and security: per-agency NATS identities, TLS material, clusters, migrations."""
