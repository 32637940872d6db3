"""The template networks in torch, float64, written from the textbook with matrices.

Shares no code with sheetprop's engine: it reads a Template's numbers and builds the usual
layer-by-layer model, so autograd and torch.optim can be held against the spreadsheet's
formulas.
"""

import torch

ACTIVATIONS = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
               "linear": lambda x: x, "softmax": lambda x: torch.softmax(x, dim=1)}


class TorchNetwork:
    def __init__(self, template):
        t = template
        self.template = t
        f64 = dict(dtype=torch.float64)
        self.weights, self.biases = [], []
        offset = 0
        for n_from, n_to in zip(t.layers, t.layers[1:]):
            # Row j holds the weights into neuron j, sources in order (w1 i1→h1, w2 i2→h1, …).
            w = torch.tensor(t.weights[offset:offset + n_from * n_to], **f64).reshape(n_to, n_from)
            self.weights.append(w.requires_grad_())
            offset += n_from * n_to
        if t.biases is not None:
            for layer, size in enumerate(t.layers[1:]):
                value = t.biases[layer]
                # A shared bias is one number broadcast over the layer: one parameter.
                b = torch.tensor(value if isinstance(value, tuple) else [value], **f64)
                self.biases.append(b.requires_grad_(t.train_biases))
        self.inputs = torch.tensor(t.example_inputs, **f64)
        self.targets = torch.tensor(t.example_targets, **f64)

    @property
    def parameters(self):
        """In the sheet's column order: each layer's weights, then that layer's biases."""
        out = []
        for layer, w in enumerate(self.weights):
            out.append(w)
            if self.template.train_biases:
                out.append(self.biases[layer])
        return out

    def flat(self):
        return torch.cat([p.detach().reshape(-1) for p in self.parameters])

    def loss(self):
        t = self.template
        a = self.inputs
        for layer, (w, activation) in enumerate(zip(self.weights, t.activations)):
            net = a @ w.T
            if self.biases:
                net = net + self.biases[layer]
            if activation == "softmax" and t.loss == "cross_entropy":
                log_probabilities = torch.log_softmax(net, dim=1)
                per_example = -(self.targets * log_probabilities).sum(dim=1)
                return per_example.mean()
            a = ACTIVATIONS[activation](net)
        if t.loss == "mse":
            per_example = (0.5 * (self.targets - a) ** 2).sum(dim=1)
        elif t.loss == "binary_cross_entropy":
            per_example = -(self.targets * torch.log(a) + (1 - self.targets) * torch.log(1 - a)).sum(dim=1)
        else:
            raise ValueError(t.loss)
        return per_example.mean()

    def optimizer(self, name, lr, settings):
        params = self.parameters
        if name == "sgd":
            return torch.optim.SGD(params, lr=lr)
        if name == "momentum":
            return torch.optim.SGD(params, lr=lr, momentum=settings.get("momentum", 0.9))
        if name == "rmsprop":
            return torch.optim.RMSprop(params, lr=lr, alpha=settings.get("alpha", 0.99),
                                       eps=settings.get("eps", 1e-8))
        if name == "adam":
            return torch.optim.Adam(params, lr=lr, betas=(settings.get("beta1", 0.9), settings.get("beta2", 0.999)),
                                    eps=settings.get("eps", 1e-8))
        raise ValueError(name)
