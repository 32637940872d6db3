"""Writer and reader of labels cannot drift: every column label a built-in network has, with any
optimizer and the gradient check, is read back by ``labels.parse`` as itself."""

import dataclasses

import pytest

from sheetprop.network import labels
from sheetprop.network import Network
from sheetprop.network.template import builtin_templates, load_template


@pytest.mark.parametrize("name", sorted(builtin_templates()))
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "rmsprop", "adam"])
def test_every_label_build_writes_reads_back(name, optimizer):
    network = Network(dataclasses.replace(load_template(name), optimizer=optimizer), gradcheck=True)
    written = [q.label for q in network.quantities]
    assert len(written) == len(set(written))
    assert [labels.parse(label) for label in written] == written


@pytest.mark.parametrize("text", ["h1_2x", "∂E/∂", "w", "a_", "⁽²⁾", "E_total⁽²", "fd w1", "q1"])
def test_what_is_no_label_stays_none(text):
    assert labels.parse(text) is None
