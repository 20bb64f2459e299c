"""Storage and messaging backends behind Protocols; `factory` builds them from Settings."""
