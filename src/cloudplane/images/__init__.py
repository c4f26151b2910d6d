"""Images: bootable disk files with checksums, uploaded and downloaded as streams."""
