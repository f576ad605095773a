"""How a contact drawing looks: the category colours and their meaning, and the dashes'
thickness per probability bin. The drawing (:mod:`.drawing`), its legend
(:mod:`.legend`) and the dialogs read them here.
"""

from esm_contacts.metrics import CATEGORY_MEANINGS, CATEGORY_PALETTES, DEFAULT_PALETTE

__all__ = [
    "PALETTES",
    "DEFAULT_PALETTE",
    "COLORS",
    "MEANINGS",
    "BIN_QUANTILES",
    "DASH_WIDTHS",
    "DASH_RADII",
]

#: Category colours, the one table of the core (dashes, legend, dialogs, contact-map panel,
#: ChimeraX pseudobonds): palette -> category -> (PyMOL colour name, RGB 0-255). Names that
#: PyMOL lacks are defined with ``cmd.set_color`` when a drawing uses them
#: (:func:`.drawing.define_colors`).
PALETTES = CATEGORY_PALETTES
#: Category -> PyMOL colour name of the default palette.
COLORS = {kind: color for kind, (color, _) in PALETTES[DEFAULT_PALETTE].items()}
#: What each category means (log, legend, dialogs): the core's table.
MEANINGS = CATEGORY_MEANINGS
#: Quantiles of the drawn probabilities that separate the thickness bins (quartiles).
BIN_QUANTILES = (0.25, 0.5, 0.75)
#: dash_width (OpenGL lines) and dash_radius (ray tracing, cylinders) per bin, thinnest first.
DASH_WIDTHS = (1.5, 2.5, 3.5, 5.0)
DASH_RADII = (0.05, 0.09, 0.14, 0.20)
