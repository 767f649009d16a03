"""Operators' tools: status, tail, dead letters, rebuild, demo data and the web console."""
