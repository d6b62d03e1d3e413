# LAB STAND-IN: see novadocker/__init__.py.
# As in nova-docker, `compute_driver = novadocker.virt.docker.DockerDriver` names the driver
# through this package.
from novadocker.virt.docker import driver

DockerDriver = driver.DockerDriver
