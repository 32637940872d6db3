"""The layered templates in torch, float64, written from the textbook with tensors.

Shares no code with sheetprop's engine: it reads a Template's stack and builds the usual model
with torch's own operations (conv2d, avg_pool2d, softmax, matrix products, an unrolled loop for
the recurrent layer), so autograd and torch.optim can be held against the spreadsheet's formulas.
"""

import math

import torch
import torch.nn.functional as F

ACTIVATIONS = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu, "linear": lambda x: x}
PARAMETERS = {"recurrent": ("input_weights", "recurrent_weights", "biases"), "conv": ("kernels", "biases"),
              "attention": ("query", "key", "value"), "pool": (), "dense": ("weights", "biases")}


class TorchStack:
    def __init__(self, template):
        self.template = template
        f64 = dict(dtype=torch.float64)
        self.layers = []
        for layer in template.stack:
            values = dict(layer.values)
            own = {key: torch.tensor(values[key], **f64).requires_grad_() for key in PARAMETERS[layer.kind]}
            if layer.kind == "recurrent":
                own["initial_state"] = torch.tensor(values["initial_state"], **f64)
            self.layers.append((layer, own))
        self.inputs = torch.tensor(template.inputs, **f64)
        self.targets = torch.tensor(template.targets, **f64)

    @property
    def parameters(self):
        """In the sheet's column order: layer by layer, each layer's parameters in template order."""
        return [own[key] for layer, own in self.layers for key in PARAMETERS[layer.kind]]

    def flat(self):
        return torch.cat([p.detach().reshape(-1) for p in self.parameters])

    def loss(self):
        x = self.inputs
        for layer, p in self.layers:
            if layer.kind == "recurrent":
                h = p["initial_state"].expand(x.shape[0], -1)
                for t in range(x.shape[1]):
                    h = ACTIVATIONS[layer.activation](x[:, t] @ p["input_weights"].T + h @ p["recurrent_weights"].T
                                                      + p["biases"])
                x = h
            elif layer.kind == "conv":
                x = ACTIVATIONS[layer.activation](F.conv2d(x.unsqueeze(1), p["kernels"].unsqueeze(1), p["biases"]))
            elif layer.kind == "attention":
                q, k, v = x @ p["query"].T, x @ p["key"].T, x @ p["value"].T
                scores = q @ k.transpose(1, 2) / math.sqrt(q.shape[-1])
                x = torch.softmax(scores, dim=-1) @ v
            elif layer.kind == "pool":
                if layer.size:
                    x = F.avg_pool2d(x, layer.size)
                else:
                    x = x.mean(dim=(2, 3)) if x.dim() == 4 else x.mean(dim=1)
            else:
                o = x.reshape(x.shape[0], -1) @ p["weights"].T + p["biases"]
                return self._loss(layer.activation, o)

    def _loss(self, activation, o):
        t = self.targets
        if self.template.loss == "cross_entropy":
            return (-(t * torch.log_softmax(o, dim=1)).sum(dim=1)).mean()
        a = ACTIVATIONS[activation](o)
        if self.template.loss == "mse":
            return (0.5 * (t - a) ** 2).sum(dim=1).mean()
        return (-(t * torch.log(a) + (1 - t) * torch.log(1 - a))).sum(dim=1).mean()

    def optimizer(self, name, lr, settings):
        params = self.parameters
        if name == "sgd":
            return torch.optim.SGD(params, lr=lr)
        if name == "momentum":
            return torch.optim.SGD(params, lr=lr, momentum=settings.get("momentum", 0.9))
        if name == "rmsprop":
            return torch.optim.RMSprop(params, lr=lr, alpha=settings.get("alpha", 0.99), eps=settings.get("eps", 1e-8))
        return torch.optim.Adam(params, lr=lr, betas=(settings.get("beta1", 0.9), settings.get("beta2", 0.999)),
                                eps=settings.get("eps", 1e-8))
