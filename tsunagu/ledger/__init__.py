"""Migrating a city's Excel ledger (台帳) into Tsunagu through the deciders."""
