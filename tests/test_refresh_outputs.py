"""tools.refresh_outputs: refreshing an unchanged chapter must not rewrite its file."""

import hashlib

import nbformat

from tools.refresh_outputs import WIDGET_STATE, stable_widget_ids

IDS = ["3f1c2a9b8e7d4c6f9a0b1c2d3e4f5a6b", "0a1b2c3d4e5f60718293a4b5c6d7e8f9"]


def notebook_with_widgets(ids):
    """Two models, the first holding the second, and an output showing the first."""
    nb = nbformat.v4.new_notebook()
    view = {"model_id": ids[0], "version_major": 2, "version_minor": 0}
    nb.cells.append(
        nbformat.v4.new_code_cell(
            "box",
            outputs=[
                nbformat.v4.new_output(
                    "display_data",
                    data={
                        "application/vnd.jupyter.widget-view+json": view,
                        "text/plain": "VBox()",
                    },
                )
            ],
        )
    )
    nb.cells[
        0
    ].id = "widget-cell"  # nbformat's ids are random too; a stored cell keeps its own
    nb.metadata["widgets"] = {
        WIDGET_STATE: {
            "version_major": 2,
            "version_minor": 0,
            "state": {
                ids[0]: {
                    "model_name": "VBoxModel",
                    "state": {"children": [f"IPY_MODEL_{ids[1]}"]},
                },
                ids[1]: {"model_name": "ImageModel", "state": {}},
            },
        }
    }
    return nb


def test_widget_ids_depend_only_on_the_notebook_and_creation_order():
    first = stable_widget_ids(notebook_with_widgets(IDS), "02_continuous.ipynb")
    again = stable_widget_ids(
        notebook_with_widgets([i[::-1] for i in IDS]), "02_continuous.ipynb"
    )
    assert nbformat.writes(first) == nbformat.writes(
        again
    )  # other random ids, same file
    text = nbformat.writes(first)
    assert not any(i in text for i in IDS)
    state = first.metadata["widgets"][WIDGET_STATE]["state"]
    # the n-th model created is named by sha256("<notebook>:<n>")
    box, image = (
        hashlib.sha256(f"02_continuous.ipynb:{n}".encode()).hexdigest()[:32]
        for n in (0, 1)
    )
    assert set(state) == {box, image} and state[image]["model_name"] == "ImageModel"
    # references stay consistent: the output shows the box, the box holds the image
    view = first.cells[0].outputs[0]["data"]["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] == box
    assert state[box]["state"]["children"] == [f"IPY_MODEL_{image}"]
    other = stable_widget_ids(notebook_with_widgets(IDS), "03_discrete.ipynb")
    assert set(other.metadata["widgets"][WIDGET_STATE]["state"]).isdisjoint(state)
