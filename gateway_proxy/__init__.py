"""gateway_proxy."""
