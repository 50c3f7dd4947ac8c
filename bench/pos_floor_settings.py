"""Settings of the POS benchmark's floors (``bench/pos.py``): the production settings, with ``pos_floor_urls`` as
the URL configuration (the application's own URLs and two measuring endpoints)."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "pos_floor_urls"
