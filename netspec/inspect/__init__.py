"""Looking inside a network: intermediate activations, input gradients, activation
maximization, receptive fields, gradient-norm recording, and (with the `plots` extra) pictures.

The submodules import only numpy; matplotlib is imported by the rendering modules alone."""
