"""Acme Shop: a tiny shop library built on the standard library only."""

from shop.money import CurrencyMismatch, Money

__all__ = ["CurrencyMismatch", "Money"]
