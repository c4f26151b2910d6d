"""Operations: the record of every hypervisor-touching change, and the jobs that watch them."""
