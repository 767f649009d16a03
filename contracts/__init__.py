"""Tsunagu's public contracts: events, commands and the envelope. Pure data."""
