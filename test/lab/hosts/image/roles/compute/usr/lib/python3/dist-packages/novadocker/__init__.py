# LAB STAND-IN for nova-docker (the OpenContrail-patched stable/juno branch the seed installs in
# its step 9). Only the importable names exist, so that host preparation's checks
# (`python3 -c "import novadocker.virt.docker"`) and the lab's own loading of the configured
# driver and VIF driver classes (test/lab/hosts) behave as on a real compute node. Nothing here
# runs containers: the lab's data plane does that.
