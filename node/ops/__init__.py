"""Looking after a node: the serve lock, backup and restore, ``papi doctor``."""
