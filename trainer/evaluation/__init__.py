"""How good a model is, on songs it has never seen: likelihood, music and harmony figures."""
