# Sourced by the scripts: lets Open MPI run as root (containers, CI) and with more ranks than
# cores, which a 2-core machine needs for the 4-rank tests.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
