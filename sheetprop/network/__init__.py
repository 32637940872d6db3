"""A network as the engine's expressions: a template (``template``) becomes a ``Network`` whose
quantities — forward pass, losses (``losses``), chain-rule gradients and the optimizer's update
(``optimizers``) — are named by the labels a sheet shows (``labels``). It knows no spreadsheet."""

from sheetprop.network.network import (CARRIED_ROLES, DEFAULT_FINITE_DIFFERENCE_STEP, FINITE_DIFFERENCE_STEP,
                                       GIVEN_ROLES, Network, Quantity, gradient_label, previous)
from sheetprop.network.optimizers import LEARNING_RATE

__all__ = ["CARRIED_ROLES", "DEFAULT_FINITE_DIFFERENCE_STEP", "FINITE_DIFFERENCE_STEP", "GIVEN_ROLES",
           "LEARNING_RATE", "Network", "Quantity", "gradient_label", "previous"]
