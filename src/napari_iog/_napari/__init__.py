"""The napari UI of napari-iog (the only package that imports napari / Qt / magicgui).

Modules: ``widget`` (dock widget), ``controller`` (annotation loop), ``layers`` (layer <-> Prompt,
world <-> pixel), ``commit`` (undoable Labels writes), ``workers`` (thread workers),
``propagation_control``, ``keybindings``, ``provenance``, ``samples``, ``writer``, ``model_choice``.
"""
