"""Cadenza converter: a trained run -> a TensorFlow.js folder the browser loads."""
