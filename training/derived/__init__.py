"""Derived datasets as data: rollouts and preference pairs (formats, validation, stats, cards)."""
