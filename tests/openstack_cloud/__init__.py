"""A small OpenStack cloud over HTTP for tests: Keystone, Nova, Cinder, Neutron and Glance."""
