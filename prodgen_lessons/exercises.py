"""Checks for the exercises in which students write code themselves.

    exercises.check(my_loss, models.gan.generator_loss, cases)

runs the student's function and the library's on the same inputs and says in one line whether
they agree, and if not, on which input and how: nothing raises, so a notebook runs on whatever
state the exercise is in.
"""

import numpy as np


def check(student, reference, cases, name=None, atol=1e-4, rtol=1e-4):
    """True when student(*args) equals reference(*args) (to atol/rtol) for every args in `cases`;
    prints one line either way."""
    name = name or getattr(student, "__name__", "your function")
    for k, args in enumerate(cases, 1):
        try:
            got = student(*args)
        except NotImplementedError:
            print(f"{name}: not written yet — replace `raise NotImplementedError` with your code")
            return False
        except Exception as err:  # the student's code failed: say how, do not stop the notebook
            print(f"{name}: case {k} raised {type(err).__name__}: {err}")
            return False
        want = np.asarray(reference(*args), dtype=np.float64)
        got = np.asarray(np.float64(np.nan) if got is None else got, dtype=np.float64)
        if got.shape != want.shape:
            print(f"{name}: case {k} gives shape {got.shape}, the answer has shape {want.shape}")
            return False
        if not np.allclose(got, want, atol=atol, rtol=rtol):
            print(f"{name}: case {k} gives {np.round(got, 4)}, the answer is {np.round(want, 4)}")
            return False
    print(f"{name}: correct on all {len(cases)} cases")
    return True
