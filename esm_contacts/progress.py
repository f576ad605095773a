"""Progress bars on stderr that appear only for slow work."""

import sys

__all__ = ["PROGRESS_DELAY_S", "progress_bar"]

#: Seconds a progress bar waits before it appears: quick predictions print nothing.
PROGRESS_DELAY_S = 2.0


def progress_bar(total: int, enabled: bool, description: str, unit: str = "seq"):
    """A tqdm bar on stderr, shown once the work has taken :data:`PROGRESS_DELAY_S` seconds.

    Parameters
    ----------
    total : int
        Units of work; a bar of one unit or less is never shown.
    enabled : bool
        False gives a disabled bar (its ``update`` still works).
    description : str
        Text before the bar.
    unit : str
        Name of one unit of work.

    Returns
    -------
    bar : tqdm.tqdm
        The bar; close it when the work ends.
    """
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        disable=not enabled or total <= 1,
        desc=description,
        unit=unit,
        delay=PROGRESS_DELAY_S,
        file=sys.stderr,
    )
