"""The Keras network, its training and its run folder."""
