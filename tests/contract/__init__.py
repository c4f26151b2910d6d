"""The driver contract suite: the same tests run against every compute driver."""
