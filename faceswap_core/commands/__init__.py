"""One module per `faceswap` subcommand; see faceswap_core.cli."""
