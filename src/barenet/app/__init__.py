"""The application: runs, recipes, the command line, the benchmark, plots, images, the web app."""
