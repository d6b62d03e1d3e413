# LAB STAND-IN: see novadocker/__init__.py.


class DockerGenericVIFDriver(object):
    """nova-docker's default VIF driver: plugs bridge and OVS ports only, so on an OpenContrail
    compute node (vif_type vrouter) every boot fails with "Unexpected vif_type=vrouter"."""

    SUPPORTED_VIF_TYPES = ("bridge", "ovs")
