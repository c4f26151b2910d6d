"""The audit trail: one record per mutating request."""
