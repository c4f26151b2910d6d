"""The libvirt driver: servers as persistent libvirt domains on KVM/QEMU hosts."""
