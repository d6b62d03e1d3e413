# LAB STAND-IN: see novadocker/__init__.py.
