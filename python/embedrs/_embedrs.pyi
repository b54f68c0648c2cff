"""Type stubs for the private Rust extension module ``embedrs._embedrs``."""

__version__: str
