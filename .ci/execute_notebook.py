"""Execute chapter notebooks in place, the way they are committed: outputs kept, stderr dropped.

    .venv/bin/python .ci/execute_notebook.py notebooks/02_deep_learning_basics.ipynb [...]

stderr outputs are removed because ipykernel captures TensorFlow's C++ log lines outside pytest
but not under it, so nbval would report them missing (see the project notes). Widget state is kept,
so the HTML book can show the widgets.
"""

import os
import sys
import time

import nbformat
from nbclient import NotebookClient

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("PYTHONHASHSEED", "0")

for path in sys.argv[1:]:
    nb = nbformat.read(path, as_version=4)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    start = time.time()
    NotebookClient(nb, timeout=900, kernel_name="python3", record_timing=False, store_widget_state=True,
                   resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}}).execute()
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")]
            cell.metadata.pop("execution", None)
    nbformat.write(nb, path)
    print(f"{path}: executed in {time.time() - start:.0f} s")
