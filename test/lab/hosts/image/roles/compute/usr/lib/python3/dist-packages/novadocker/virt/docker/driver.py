# LAB STAND-IN: see novadocker/__init__.py.
"""A Docker hypervisor which allows running Linux Containers instead of VMs (name only)."""


class DockerDriver(object):
    """nova-docker's ComputeDriver (lab stand-in: importable, does nothing)."""

    def __init__(self, virtapi=None):
        self.virtapi = virtapi
