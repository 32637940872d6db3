"""An independent numpy implementation of the template networks, for checking the engine.

Written from the textbook definitions with matrices, sharing no code with sheetprop's engine.
"""

import numpy as np

ACTIVATIONS = {
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0.0),
    "linear": lambda x: x,
}


def unpack(layers, weights):
    n_in, n_hidden, n_out = layers
    weights = np.asarray(weights, dtype=np.float64)
    split = n_in * n_hidden
    # Row j holds the weights into neuron j, sources in order: w1 i1→h1, w2 i2→h1, ...
    return weights[:split].reshape(n_hidden, n_in), weights[split:].reshape(n_out, n_hidden)


def forward(layers, activations, inputs, targets, weights, biases=None):
    """Every named quantity of one row, by label."""
    w_hidden, w_out = unpack(layers, weights)
    b_hidden, b_out = biases if biases is not None else (0.0, 0.0)
    act_hidden, act_out = (ACTIVATIONS[a] for a in activations)
    h = w_hidden @ np.asarray(inputs) + b_hidden
    a_h = act_hidden(h)
    o = w_out @ a_h + b_out
    a_o = act_out(o)
    errors = 0.5 * (np.asarray(targets) - a_o) ** 2
    values = {"E_total": float(errors.sum())}
    for name, vector in (("h", h), ("a_h", a_h), ("o", o), ("a_o", a_o), ("E", errors)):
        values.update({f"{name}{k + 1}": float(v) for k, v in enumerate(vector)})
    return values


def finite_difference_gradient(layers, activations, inputs, targets, weights, biases=None,
                               step=1e-6):
    """Central differences of E_total with respect to each weight."""
    weights = np.asarray(weights, dtype=np.float64)
    gradient = []
    for k in range(len(weights)):
        up, down = weights.copy(), weights.copy()
        up[k] += step
        down[k] -= step
        loss_up = forward(layers, activations, inputs, targets, up, biases)["E_total"]
        loss_down = forward(layers, activations, inputs, targets, down, biases)["E_total"]
        gradient.append((loss_up - loss_down) / (2 * step))
    return np.array(gradient)
