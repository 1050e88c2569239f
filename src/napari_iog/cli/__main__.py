"""``python -m napari_iog.cli ...`` = the ``napari-iog`` console script."""

from napari_iog.cli import main

raise SystemExit(main())
