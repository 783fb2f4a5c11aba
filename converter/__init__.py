"""Cadenza converter: a trained run -> the self-describing folder the browser loads."""
