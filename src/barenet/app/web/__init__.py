"""``barenet serve``: a local web page to draw digits for a model, and to watch one learn."""
