"""The OpenStack driver: cloudplane's resources mapped onto Nova, Cinder, Neutron and Glance."""
