# LAB STAND-IN: see novadocker/__init__.py.


class OpenContrailVIFDriver(object):
    """The OpenContrail VIF driver: veth pairs registered with the vRouter agent."""

    SUPPORTED_VIF_TYPES = ("vrouter",)
