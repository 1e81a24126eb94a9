"""``python -m barenet``: the ``barenet`` command (``barenet.app.entry``)."""
import sys

from .app.entry import main

sys.exit(main())
