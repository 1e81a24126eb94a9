"""The static web export: the draw page and a model as plain files, run by any browser.

See ``export``; ``barenet serve`` serves the same page.
"""
from .export import ASSETS, OUTPUT_AXIS, PAGE, browser_layer_kinds, export_web, model_script, quantize_int8, render_page

__all__ = ["export_web", "model_script", "render_page", "quantize_int8", "OUTPUT_AXIS", "browser_layer_kinds", "PAGE",
           "ASSETS"]
