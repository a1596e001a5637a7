"""Garbage collection settings for long-running processes."""

import gc


def freeze_startup_objects() -> None:
    """Leave what start-up allocated (modules, models, settings, app registries) out of
    every later collection. A full collection walks every tracked object, and in a started web
    process it took some 70 ms, landing on whichever request happened to trigger it; these
    objects live as long as the process anyway."""
    gc.collect()
    gc.freeze()
