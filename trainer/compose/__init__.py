"""Composing with a trained network in numpy: the Stepper, sampling, harmonizing. No Keras."""
